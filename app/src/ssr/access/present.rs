//! Access requests as the API shows them.

use super::policy::may_request;
use crate::model::{AccessRequestView, AccessStatus, GrantView, ProfileInfo};
use crate::ssr::auth::Caller;
use crate::ssr::config::AccessProfile;
use crate::ssr::state::AppState;
use crate::ssr::store::{AccessRequestRecord, GrantRecord};

pub fn profile_info(state: &AppState, caller: &Caller, env: &str, p: &AccessProfile) -> ProfileInfo {
    ProfileInfo {
        environment: env.into(),
        name: p.name.clone(),
        role_arn: p.role_arn.clone(),
        max_minutes: p.max_minutes,
        approvals: p.approvals,
        require_mfa: p.require_mfa,
        ticket_pattern: p.ticket_pattern.clone(),
        emergency: p.emergency,
        can_request: may_request(caller, p).is_ok(),
        demo: state.environment(env).is_some_and(|e| e.demo),
    }
}

/// The status people see: an active grant past its expiry is expired, whether or not the expiry
/// job has run yet (grants end at their expiry even while the console was down).
pub fn effective_status(r: &AccessRequestRecord, grant: Option<&GrantRecord>, now_ms: i64) -> AccessStatus {
    r.status
        .effective(r.pending_until_ms, r.window_end_ms, grant.map(|g| g.expires_ms), now_ms)
}

pub fn view(state: &AppState, r: &AccessRequestRecord, grant: Option<GrantRecord>, now_ms: i64) -> AccessRequestView {
    AccessRequestView {
        id: r.id,
        environment: r.environment.clone(),
        profile: r.profile.clone(),
        requester: r.requester.clone(),
        reason: r.reason.clone(),
        ticket: r.ticket.clone(),
        incident_id: r.incident_id,
        duration_minutes: r.duration_minutes,
        emergency: r.emergency,
        extends_id: r.extends_id,
        status: effective_status(r, grant.as_ref(), now_ms),
        created_ms: r.created_ms,
        pending_until_ms: r.pending_until_ms,
        approved_ms: r.approved_ms,
        window_end_ms: r.window_end_ms,
        ended_ms: r.ended_ms,
        ended_by: r.ended_by.clone(),
        review_status: r.review_status,
        reviewed_by: r.reviewed_by.clone(),
        review_note: r.review_note.clone(),
        revocation: r.revocation.clone(),
        grant: grant.map(|g| GrantView {
            role_arn: g.role_arn,
            session_name: g.session_name,
            access_key_id: g.access_key_id,
            issued_ms: g.issued_ms,
            expires_ms: g.expires_ms,
        }),
        demo: state.environment(&r.environment).is_some_and(|e| e.demo),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_active_grant_past_expiry_is_shown_expired() {
        let r = AccessRequestRecord {
            status: AccessStatus::Active,
            ..AccessRequestRecord::default()
        };
        let g = GrantRecord {
            request_id: 1,
            role_arn: String::new(),
            session_name: String::new(),
            access_key_id: String::new(),
            issued_ms: 0,
            expires_ms: 1_000,
        };
        assert_eq!(effective_status(&r, Some(&g), 999), AccessStatus::Active);
        assert_eq!(effective_status(&r, Some(&g), 1_000), AccessStatus::Expired);
    }
}
