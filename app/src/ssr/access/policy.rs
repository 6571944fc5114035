//! Who may request, decide on, activate and revoke access, and whether an approval link holds.

use crate::error::AppError;
use crate::model::{AccessStatus, Role};
use crate::ssr::auth::Caller;
use crate::ssr::config::AccessProfile;
use crate::ssr::state::AppState;
use crate::ssr::store::AccessRequestRecord;

pub fn person_only(caller: &Caller) -> Result<(), AppError> {
    if caller.token || caller.anonymous {
        return Err(AppError::Forbidden(
            "production access is for signed-in people, not API tokens or anonymous viewers".into(),
        ));
    }
    Ok(())
}

pub fn profile(state: &AppState, env: &str, name: &str) -> Option<AccessProfile> {
    state.access_profiles(env).into_iter().find(|p| p.name == name)
}

/// What asking for access needs before any profile is looked at: the responder role, as a person.
pub fn may_ask(caller: &Caller) -> Result<(), AppError> {
    caller.require(Role::Responder)?;
    person_only(caller)
}

/// What reviewing break-glass access needs before the request is looked at: a person with the
/// approver role.
pub fn may_review(caller: &Caller) -> Result<(), AppError> {
    person_only(caller)?;
    caller.require(Role::Approver)
}

pub fn may_request(caller: &Caller, p: &AccessProfile) -> Result<(), AppError> {
    may_ask(caller)?;
    if !p.requester_groups.is_empty() && !caller.in_any(&p.requester_groups) {
        return Err(AppError::Forbidden(format!(
            "profile {} is requested by members of {}",
            p.name,
            p.requester_groups.join(", ")
        )));
    }
    Ok(())
}

/// May `caller` activate a grant of profile `p` (their own, checked by the caller)? What requesting
/// needs, again: groups are read at login (and again at every step-up), so someone who left the
/// profile's requester groups since asking does not get credentials.
pub fn may_activate(caller: &Caller, p: &AccessProfile) -> Result<(), AppError> {
    may_request(caller, p)
}

/// May `caller` review the emergency grant `r` of profile `p`? A person with the approver role in
/// the profile's approver groups, never the grantee (the same person by any account: checked
/// with the store by `auth::refuse_same_person`).
pub fn may_review_grant(caller: &Caller, r: &AccessRequestRecord, p: &AccessProfile) -> Result<(), AppError> {
    may_review(caller)?;
    if r.requester == caller.subject {
        return Err(AppError::Forbidden(
            "two-person rule: the grantee does not review their own emergency access".into(),
        ));
    }
    if !caller.in_any(&p.approver_groups) {
        return Err(AppError::Forbidden(format!(
            "emergency access to {} is reviewed by members of {}",
            p.name,
            p.approver_groups.join(", ")
        )));
    }
    Ok(())
}

/// May `caller` decide on `r`? Approver role, the profile's approver groups, never the requester
/// (this compares subjects; `auth::refuse_same_person` also compares verified emails).
pub fn may_decide(caller: &Caller, r: &AccessRequestRecord, p: &AccessProfile) -> Result<(), AppError> {
    person_only(caller)?;
    if r.requester == caller.subject {
        return Err(AppError::Forbidden(
            "two-person rule: nobody approves or denies their own access request".into(),
        ));
    }
    if !caller.roles.contains(&Role::Approver) {
        return Err(AppError::Forbidden("deciding on access needs the approver role".into()));
    }
    if !caller.in_any(&p.approver_groups) {
        return Err(AppError::Forbidden(format!(
            "profile {} is approved by members of {}",
            p.name,
            p.approver_groups.join(", ")
        )));
    }
    Ok(())
}

pub fn check_link(state: &AppState, r: &AccessRequestRecord, token: &str, now_ms: i64) -> Result<(), AppError> {
    crate::ssr::links::verify(&state.link_key(), token, r.id, now_ms).map_err(|e| AppError::Forbidden(e.into()))?;
    if r.status != AccessStatus::Pending {
        return Err(AppError::Forbidden(format!(
            "the approval link is no longer valid: the request is {}",
            r.status.label()
        )));
    }
    Ok(())
}
