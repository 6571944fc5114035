//! Grants: the STS credentials of an approved request (shown once) and their early revocation.

use super::commands::audit;
use super::notify::{request_link, slack_message};
use super::policy::{person_only, profile};
use super::present::effective_status;
use super::queries::load;
use crate::error::AppError;
use crate::model::{AccessStatus, IssuedCredentials, Role, format_ts, roles_allow};
use crate::ssr::auth::Caller;
use crate::ssr::cloud::{DenyWritten, REVOCATION_SKEW_MS};
use crate::ssr::kernel::clock::now;
use crate::ssr::kernel::effects::{audit_outcome, entry};
use crate::ssr::kernel::input::Reason;
use crate::ssr::state::{AppState, EnvMeta};
use crate::ssr::store::{AccessChange, AccessRequestRecord, Effects, GrantRecord};
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, PoisonError};
use std::time::{Duration, Instant};

/// How long a revocation waits for its role's lock before giving up (503, nothing written).
const ROLE_LOCK_WAIT: Duration = Duration::from_secs(30);
/// The lease on a role's revocations across replicas lasts this long, so a replica that stops
/// while holding it lets the others in again; one read-modify-write of the policy gets half of it.
const ROLE_LEASE_MS: i64 = 60_000;

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
    if !matches!(stored, Ok(true)) {
        // Unaccounted credentials must not stay usable: deny the session at once, and never
        // show them. (`Ok(false)`: the request left `activating` meanwhile, revoked or expired.)
        let cutoff = session_cutoff(now(), Some(creds.expires_ms));
        let denied = deny_locked(state, &meta, &p.role_arn, &session, cutoff).await;
        if let Err(e) = &denied {
            tracing::error!(id, session = %session, error = %e, "credentials issued but not recorded, and the deny failed");
        }
        let now_status = state.store.access_get(id).await.ok().flatten().map(|r| r.status);
        let _ = state
            .audit(audit_outcome(
                &caller.subject,
                "access.activate",
                &format!("access:{id}"),
                "failed",
                serde_json::json!({"session": session, "denied": denied.is_ok(),
                    "status": now_status.map(AccessStatus::label),
                    "error": stored.err().map(|e| e.to_string())}),
            ))
            .await;
        return Err(if now_status == Some(AccessStatus::Revoked) {
            AppError::Conflict(format!(
                "access request {id} was revoked while it was being activated: its credentials were withheld and denied"
            ))
        } else {
            AppError::Unavailable("the grant could not be recorded, so its credentials were withheld and denied".into())
        });
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

/// The requester, an approver or an admin ends a grant early. Credentials that may exist (the
/// request is active, or being activated) are stopped by an inline deny on the role for the
/// session, written and read back before the request is marked revoked: if IAM refuses, the
/// grant stays as it was, the caller gets 503 and the failure is audited.
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
    let done = revoke_from(state, caller, r, &reason).await;
    if let Err(e @ AppError::Unavailable(_)) = &done {
        // A revocation that did not happen leaves credentials working: that is on the record.
        let _ = state
            .audit(audit_outcome(
                &caller.subject,
                "access.revoke",
                &format!("access:{id}"),
                "failed",
                serde_json::json!({"reason": reason, "error": e.to_string()}),
            ))
            .await;
    }
    done
}

/// Revokes from the state just read and only from it. When the request moved meanwhile (an
/// activation claimed it or finished), it is read again and revoked from where it is now, the
/// deny written first whenever credentials may exist.
async fn revoke_from(
    state: &AppState,
    caller: &Caller,
    mut r: AccessRequestRecord,
    reason: &str,
) -> Result<(), AppError> {
    let id = r.id;
    // Approved → activating → active → (expired): a request moves a few times at most.
    for _ in 0..5 {
        let t = now();
        let mut detail = serde_json::json!({"reason": reason, "from": r.status.label()});
        let mut patch = vec![AccessChange::EndedMs(t), AccessChange::EndedBy(caller.subject.clone())];
        let mut how = String::new();
        match r.status {
            AccessStatus::Approved => {}
            AccessStatus::Activating | AccessStatus::Active => {
                let (role, session, w) = stop_credentials(state, &r).await?;
                detail["role"] = serde_json::json!(role);
                detail["session"] = serde_json::json!(session);
                detail["cutoff_ms"] = serde_json::json!(w.cutoff_ms);
                detail["role_wide"] = serde_json::json!(w.role_wide);
                detail["policy_chars"] = serde_json::json!(w.policy_chars);
                if w.role_wide {
                    how = role_wide_note(&role, w.cutoff_ms);
                    patch.push(AccessChange::Revocation(how.clone()));
                }
            }
            other => {
                return Err(AppError::Conflict(format!(
                    "access request {id} is {}: nothing to revoke",
                    other.label()
                )));
            }
        }
        let line = format!(
            "Access #{id} ({} on {}) revoked by {}{}{}",
            r.profile,
            r.environment,
            caller.subject,
            if reason.is_empty() {
                String::new()
            } else {
                format!(": {reason}")
            },
            if how.is_empty() {
                String::new()
            } else {
                format!(" ({how})")
            }
        );
        let effects = Effects {
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
        };
        if state
            .store
            .access_transition(id, &[r.status], AccessStatus::Revoked, patch, t, effects)
            .await?
        {
            return Ok(());
        }
        r = load(state, id).await?;
    }
    Err(AppError::Conflict(format!(
        "access request {id} kept changing while it was being revoked; try again"
    )))
}

fn role_wide_note(role_arn: &str, cutoff_ms: i64) -> String {
    format!(
        "role-wide deny: the inline policies of {role_arn} were full, so every session of the role issued before {} \
         is denied, other people's grants on the role included",
        format_ts(cutoff_ms)
    )
}

/// Writes the deny that stops whatever credentials the request may have: its grant's session,
/// or, while it is being activated and no grant is recorded yet, the session the activation asks
/// STS for (the activation then finds the request revoked and withholds them). Returns the role,
/// the session and what was written.
async fn stop_credentials(
    state: &AppState,
    r: &AccessRequestRecord,
) -> Result<(String, String, DenyWritten), AppError> {
    let meta = state
        .environment(&r.environment)
        .ok_or_else(|| AppError::NotFound(format!("environment {}", r.environment)))?
        .clone();
    let (role, session, expires) = match state.store.access_grant(r.id).await? {
        Some(g) => (g.role_arn, g.session_name, Some(g.expires_ms)),
        None => {
            let p = profile(state, &r.environment, &r.profile).ok_or_else(|| {
                AppError::Unavailable(format!(
                    "profile {} is no longer configured, so the role to deny is unknown",
                    r.profile
                ))
            })?;
            (p.role_arn, session_name(r.id, &r.requester), None)
        }
    };
    let w = deny_locked(state, &meta, &role, &session, session_cutoff(now(), expires)).await?;
    Ok((role, session, w))
}

/// The cut-off of a session's deny: now plus the skew margin (AWS's clock may run ahead of the
/// console's) and, when known, no earlier than the credentials' expiry, which is AWS's own clock
/// and later than any token of the session. Session names are never used again, so a late
/// cut-off costs nothing.
fn session_cutoff(now_ms: i64, expires_ms: Option<i64>) -> i64 {
    (now_ms + REVOCATION_SKEW_MS).max(expires_ms.unwrap_or(i64::MIN))
}

/// The in-process half of a role's revocation lock: one mutex per role ARN.
fn role_mutex(role_arn: &str) -> Arc<tokio::sync::Mutex<()>> {
    static LOCKS: LazyLock<std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>> =
        LazyLock::new(Default::default);
    let mut locks = LOCKS.lock().unwrap_or_else(PoisonError::into_inner);
    locks.entry(role_arn.to_string()).or_default().clone()
}

/// Adds the deny for `session` to `role_arn`'s policy while holding the role's revocation lock,
/// so two revocations never read the same policy and overwrite each other: a mutex per role in
/// this process, and across replicas the lease `revoke:<role ARN>` in the shared database (a
/// row, so SQLite and Postgres alike). No lock within `ROLE_LOCK_WAIT`: 503, nothing written.
///
/// It runs as a task of its own: a caller that goes away (a client disconnecting, a request
/// timeout) does not cut it short between the write and the lease's release.
async fn deny_locked(
    state: &AppState,
    meta: &EnvMeta,
    role_arn: &str,
    session: &str,
    issued_before_ms: i64,
) -> Result<DenyWritten, AppError> {
    let (state, meta, role_arn, session) = (state.clone(), meta.clone(), role_arn.to_string(), session.to_string());
    tokio::spawn(async move { deny_holding_lock(&state, &meta, &role_arn, &session, issued_before_ms).await })
        .await
        .map_err(|e| AppError::Internal(format!("the revocation task stopped: {e}")))?
}

async fn deny_holding_lock(
    state: &AppState,
    meta: &EnvMeta,
    role_arn: &str,
    session: &str,
    issued_before_ms: i64,
) -> Result<DenyWritten, AppError> {
    let busy = || {
        AppError::Unavailable(format!(
            "another revocation on {role_arn} held its lock for {} s; nothing was written",
            ROLE_LOCK_WAIT.as_secs()
        ))
    };
    let started = Instant::now();
    let local = role_mutex(role_arn);
    let _in_process = tokio::time::timeout(ROLE_LOCK_WAIT, local.lock())
        .await
        .map_err(|_| busy())?;
    let lease = format!("revoke:{role_arn}");
    let holder = format!("{:016x}", rand::random::<u64>());
    let mut pause = Duration::from_millis(20);
    while !state.store.lease_acquire(&lease, &holder, now(), ROLE_LEASE_MS).await? {
        if started.elapsed() >= ROLE_LOCK_WAIT {
            return Err(busy());
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(500));
    }
    // Within half the lease, so that no other replica can take it over while this write runs.
    let written = tokio::time::timeout(
        Duration::from_millis((ROLE_LEASE_MS / 2) as u64),
        state
            .cloud(meta)
            .deny_session(&meta.name, role_arn, session, issued_before_ms),
    )
    .await;
    if let Err(e) = state.store.lease_release(&lease, &holder).await {
        tracing::warn!(error = %e, lease, "revocation lease not released; it lapses on its own");
    }
    match written {
        Err(_) => Err(AppError::Unavailable(format!(
            "IAM did not answer within {} s: the deny on {role_arn} may not be written",
            ROLE_LEASE_MS / 2000
        ))),
        Ok(w) => w.map_err(|e| {
            AppError::Unavailable(format!(
                "the deny policy could not be written, the grant is still active: {e}"
            ))
        }),
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
