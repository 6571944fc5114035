//! Incidents: declare, the status machine, severity and roles, notes and pins, the timeline
//! export and post-mortem, the Slack messages, and the job step that records what AWS observed.
//! Every action checks the caller, validates its input, and writes its rows, timeline entries,
//! outbox messages and audit entries in one transaction.

mod commands;
mod export;
mod notify;
mod policy;
mod poll;
mod present;
mod queries;

pub use commands::{Declare, NoteKind, add_note, declare, pin, save_postmortem, set_roles, set_severity, transition};
pub use export::{export, json, markdown, postmortem_draft};
pub use notify::slack;
pub use policy::{may_respond, parse_status};
pub use poll::{alarm_entry, poll_once};
pub use present::summary;
pub use queries::{list, view};
