//! Grants: the STS credentials of an approved request (shown once) and their early revocation.

use super::commands::audit;
use super::notify::{request_link, slack_message};
use super::policy::{person_only, profile};
use super::present::effective_status;
use super::queries::load;
use crate::error::AppError;
use crate::model::{AccessStatus, IssuedCredentials, Role, roles_allow};
use crate::ssr::auth::Caller;
use crate::ssr::kernel::clock::now;
use crate::ssr::kernel::effects::entry;
use crate::ssr::kernel::input::Reason;
use crate::ssr::state::AppState;
use crate::ssr::store::{AccessChange, Effects, GrantRecord};

/// `req-42-alice`: what the role session (and so CloudTrail and `aws:userid`) is called.
pub fn session_name(id: i64, subject: &str) -> String {
    let clean: String = subject
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "+=,.@-_".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("req-{id}-{clean}").chars().take(64).collect()
}

/// The requester activates an approved request: STS AssumeRole for the rest of the window
/// (clamped to STS's 900 s minimum and the profile's maximum). The credentials are shown once;
/// only their access key id and expiry are kept.
pub async fn activate(state: &AppState, caller: &Caller, id: i64) -> Result<IssuedCredentials, AppError> {
    person_only(caller)?;
    let r = load(state, id).await?;
    if r.requester != caller.subject {
        return Err(AppError::Forbidden("only the requester activates their grant".into()));
    }
    let p = profile(state, &r.environment, &r.profile)
        .ok_or_else(|| AppError::Unavailable(format!("profile {} is no longer configured", r.profile)))?;
    super::policy::may_activate(caller, &p)?;
    if p.require_mfa {
        caller.require_fresh_mfa(state.config.auth.mode, &format!("/access/requests/{id}"))?;
    }
    let t = now();
    let window_end = r.window_end_ms.unwrap_or(0);
    if r.status != AccessStatus::Approved || window_end <= t {
        return Err(AppError::Conflict(format!(
            "access request {id} is {}: only an approved request within its window is activated",
            effective_status(&r, None, t).label()
        )));
    }
    let meta = state
        .environment(&r.environment)
        .ok_or_else(|| AppError::NotFound(format!("environment {}", r.environment)))?
        .clone();
    // Claim it: of any number of concurrent activations, one goes on.
    let claimed = state
        .store
        .access_transition(
            id,
            &[AccessStatus::Approved],
            AccessStatus::Activating,
            vec![],
            t,
            Effects {
                audit: vec![audit(
                    &caller.subject,
                    "access.activate.start",
                    id,
                    serde_json::json!({}),
                )],
                ..Effects::default()
            },
        )
        .await?;
    if !claimed {
        return Err(AppError::Conflict(format!(
            "access request {id} is being activated or was activated"
        )));
    }
    let remaining_s = (window_end - t) / 1000;
    let max_s = i64::from(p.max_minutes.min(60)) * 60;
    let duration = remaining_s.min(max_s).max(900) as i32;
    let session = session_name(id, &caller.subject);
    let source_identity: String = session_name(0, &caller.subject)
        .trim_start_matches("req-0-")
        .to_string();
    let tags = vec![
        ("ops-console-request".to_string(), id.to_string()),
        ("requester".to_string(), caller.subject.clone()),
    ];
    let issued = state
        .cloud(&meta)
        .assume_role(&r.environment, &p.role_arn, &session, duration, &source_identity, &tags)
        .await;
    let creds = match issued {
        Ok(c) => c,
        Err(e) => {
            let _ = state
                .store
                .access_transition(
                    id,
                    &[AccessStatus::Activating],
                    AccessStatus::Approved,
                    vec![],
                    now(),
                    Effects {
                        audit: vec![crate::ssr::kernel::effects::audit_outcome(
                            &caller.subject,
                            "access.activate",
                            &format!("access:{id}"),
                            "failed",
                            serde_json::json!({"error": e.to_string()}),
                        )],
                        ..Effects::default()
                    },
                )
                .await;
            return Err(AppError::Unavailable(format!("the grant could not be issued: {e}")));
        }
    };
    let grant = GrantRecord {
        request_id: id,
        role_arn: p.role_arn.clone(),
        session_name: session.clone(),
        access_key_id: creds.access_key_id.clone(),
        issued_ms: now(),
        expires_ms: creds.expires_ms,
    };
    let line = format!(
        "Access #{id} active: {} holds {} on {} until {} (session {session})",
        caller.subject,
        p.name,
        r.environment,
        crate::model::format_ts(creds.expires_ms)
    );
    let effects = Effects {
        entries: r
            .incident_id
            .map(|i| entry(i, now(), "access", &caller.subject, line))
            .into_iter()
            .collect(),
        outbox: vec![],
        audit: vec![audit(
            &caller.subject,
            "access.activate",
            id,
            serde_json::json!({"role": p.role_arn, "session": session, "access_key_id": creds.access_key_id,
                "expires_ms": creds.expires_ms, "duration_s": duration}),
        )],
    };
    let stored = state.store.access_activated(&grant, now(), effects).await;
    match stored {
        Ok(true) => {}
        Ok(false) | Err(_) => {
            // Unaccounted credentials must not stay usable: deny the session at once.
            let _ = state
                .cloud(&meta)
                .deny_session(&r.environment, &p.role_arn, &session, now())
                .await;
            return Err(AppError::Unavailable(
                "the grant could not be recorded, so its credentials were revoked at once".into(),
            ));
        }
    }
    Ok(IssuedCredentials {
        request_id: id,
        access_key_id: creds.access_key_id,
        secret_access_key: creds.secret_access_key,
        session_token: creds.session_token,
        expires_ms: creds.expires_ms,
        issued_now_ms: now(),
        region: meta.region.clone(),
        role_arn: p.role_arn,
        session_name: session,
        demo: meta.demo,
    })
}

/// The requester, an approver or an admin ends a grant early. An active grant's credentials are
/// stopped by an inline deny on the role for its session (written before the request is marked
/// revoked: if IAM refuses, the grant stays active and the caller is told).
pub async fn revoke(state: &AppState, caller: &Caller, id: i64, reason: Option<Reason>) -> Result<(), AppError> {
    person_only(caller)?;
    let r = load(state, id).await?;
    let allowed = r.requester == caller.subject
        || roles_allow(&caller.roles, Role::Approver)
        || roles_allow(&caller.roles, Role::Admin);
    if !allowed {
        return Err(AppError::Forbidden(
            "the requester, an approver or an admin revokes a grant".into(),
        ));
    }
    let reason = reason.map(Reason::into_string).unwrap_or_default();
    let t = now();
    let grant = state.store.access_grant(id).await?;
    let mut detail = serde_json::json!({"reason": reason});
    if r.status == AccessStatus::Active
        && let Some(g) = &grant
    {
        let meta = state
            .environment(&r.environment)
            .ok_or_else(|| AppError::NotFound(format!("environment {}", r.environment)))?
            .clone();
        let doc = state
            .cloud(&meta)
            .deny_session(&r.environment, &g.role_arn, &g.session_name, t)
            .await
            .map_err(|e| {
                AppError::Unavailable(format!(
                    "the deny policy could not be written, the grant is still active: {e}"
                ))
            })?;
        detail["deny_policy_chars"] = serde_json::json!(doc.len());
        detail["session"] = serde_json::json!(g.session_name);
    }
    let line = format!(
        "Access #{id} ({} on {}) revoked by {}{}",
        r.profile,
        r.environment,
        caller.subject,
        if reason.is_empty() {
            String::new()
        } else {
            format!(": {reason}")
        }
    );
    let done = state
        .store
        .access_transition(
            id,
            &[AccessStatus::Approved, AccessStatus::Active],
            AccessStatus::Revoked,
            vec![AccessChange::EndedMs(t), AccessChange::EndedBy(caller.subject.clone())],
            t,
            Effects {
                entries: r
                    .incident_id
                    .map(|i| entry(i, t, "access", &caller.subject, line.clone()))
                    .into_iter()
                    .collect(),
                outbox: vec![slack_message(
                    state,
                    &r,
                    &line,
                    &line,
                    &request_link(state, id),
                    format!("access-{id}-revoked"),
                )],
                audit: vec![audit(&caller.subject, "access.revoke", id, detail)],
            },
        )
        .await?;
    if done {
        Ok(())
    } else {
        Err(AppError::Conflict(format!(
            "access request {id} is {}: nothing to revoke",
            r.status.label()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_names_name_the_request_and_person_within_sts_rules() {
        assert_eq!(session_name(42, "alice"), "req-42-alice");
        assert_eq!(session_name(7, "alice smith/ops"), "req-7-alice-smith-ops");
        assert!(session_name(1, &"x".repeat(100)).len() <= 64);
    }
}
