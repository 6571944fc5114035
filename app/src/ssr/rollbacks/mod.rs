//! The guarded rollback of an ECS service: a responder asks, a second person confirms, the
//! console calls UpdateService as the operator role, and a job step watches it to its end.

mod commands;
mod policy;
mod present;
mod queries;
mod watch;

pub use commands::{RollbackRequest, confirm_rollback, request_rollback};
pub use policy::{TaskDefRevision, check_target, may_confirm, may_request};
pub use present::rollback_view;
pub use queries::{previous_revision, rollback_target};
pub use watch::{watch_all, watch_rollback};
