//! Break-glass production access: requests, two-person approval with MFA, signed approval links
//! in Slack, STS grants shown once, early revocation that also stops issued credentials, the
//! emergency path and its review, and the job step that ends requests and grants on time.
//! Every transition is one guarded update in the same transaction as its audit entry.

mod commands;
mod expire;
mod grants;
mod notify;
mod policy;
mod present;
mod queries;

pub use commands::{NewRequest, cancel, decide, emergency, request, review};
pub use expire::expire_due;
pub use grants::{activate, revoke, session_name};
pub use notify::link_for;
pub use policy::{may_ask, may_review, person_only, profile};
pub use present::view;
pub use queries::{active_grants, detail, overview, unreviewed};
