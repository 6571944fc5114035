//! The rules of an incident's life: which status moves are legal, and what closing needs.

use crate::error::AppError;
use crate::model::{IncidentStatus, Role, Severity};
use crate::ssr::auth::Caller;

/// Err(Invalid) naming the legal moves unless `from → to` is one; a SEV1/SEV2 incident closes
/// only with a saved post-mortem.
pub fn check_move(
    from: IncidentStatus,
    to: IncidentStatus,
    severity: Severity,
    postmortem: &str,
) -> Result<(), AppError> {
    if !from.can_move_to(to) {
        let legal: Vec<&str> = from.next().iter().map(|s| s.label()).collect();
        return Err(AppError::Invalid(format!(
            "status: an incident cannot go from {} to {} (from {} it can go to: {})",
            from.label(),
            to.label(),
            from.label(),
            if legal.is_empty() {
                "nothing, it is final".to_string()
            } else {
                legal.join(", ")
            }
        )));
    }
    if to == IncidentStatus::Closed && severity.is_major() && postmortem.trim().is_empty() {
        return Err(AppError::Invalid(format!(
            "status: a {} incident is closed only with a post-mortem; write and save it first",
            severity.label()
        )));
    }
    Ok(())
}

/// The status a caller asked for, or Err(Invalid) naming the statuses there are.
pub fn parse_status(to: &str) -> Result<IncidentStatus, AppError> {
    IncidentStatus::parse(to.trim()).ok_or_else(|| {
        AppError::Invalid(format!(
            "status: \"{to}\" is not one of triggered, acknowledged, investigating, mitigated, resolved, closed"
        ))
    })
}

/// Changing an incident needs the responder role (checked before the input, so a refusal is a
/// 403 whatever was sent).
pub fn may_respond(caller: &Caller) -> Result<(), AppError> {
    caller.require(Role::Responder)
}
