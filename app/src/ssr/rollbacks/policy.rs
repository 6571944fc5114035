//! Who may confirm a rollback.

use crate::error::AppError;
use crate::model::{Role, roles_allow};
use crate::ssr::auth::Caller;

/// May this caller confirm someone else's rollback: another responder or an approver.
pub fn may_confirm(caller: &Caller) -> bool {
    roles_allow(&caller.roles, Role::Responder) || roles_allow(&caller.roles, Role::Approver)
}

/// Asking for a rollback needs the responder role.
pub fn may_request(caller: &Caller) -> Result<(), AppError> {
    caller.require(Role::Responder)
}
