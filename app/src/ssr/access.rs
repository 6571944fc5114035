//! Break-glass production access (seed 004 "Production Access Rules" and "Emergency Access"):
//! requests, two-person approval with MFA, signed approval links in Slack, STS grants shown once,
//! early revocation that also stops issued credentials, the emergency path and its review.
//! Every transition is one guarded update in the same transaction as its audit entry.

use super::audit::NewAuditEntry;
use super::auth::Caller;
use super::config::AccessProfile;
use super::incidents::entry;
use super::state::AppState;
use super::store::{AccessRequestRecord, Decided, Effects, GrantRecord, NewOutbox, Patch};
use crate::error::AppError;
use crate::model::{
    AccessDetail, AccessOverview, AccessRequestView, ApprovalView, GrantView, IncidentStatus, IssuedCredentials,
    ProfileInfo, Role, roles_allow,
};

use super::incidents::db;

fn now() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn audit(actor: &str, action: &str, id: i64, detail: serde_json::Value) -> NewAuditEntry {
    NewAuditEntry::new(actor, action, &format!("access:{id}"), "ok", detail).with_request_id(&super::auth::request_id())
}

fn person_only(caller: &Caller) -> Result<(), AppError> {
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

fn profile_info(state: &AppState, caller: &Caller, env: &str, p: &AccessProfile) -> ProfileInfo {
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

fn may_request(caller: &Caller, p: &AccessProfile) -> Result<(), AppError> {
    caller.require(Role::Responder)?;
    person_only(caller)?;
    if !p.requester_groups.is_empty() && !caller.in_any(&p.requester_groups) {
        return Err(AppError::Forbidden(format!(
            "profile {} is requested by members of {}",
            p.name,
            p.requester_groups.join(", ")
        )));
    }
    Ok(())
}

/// May `caller` decide on `r`? Approver role, the profile's approver groups, never the requester.
fn may_decide(caller: &Caller, r: &AccessRequestRecord, p: &AccessProfile) -> Result<(), AppError> {
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

/// The status people see: an active grant past its expiry is expired, whether or not the expiry
/// job has run yet (grants end at their expiry even while the console was down).
fn effective_status(r: &AccessRequestRecord, grant: Option<&GrantRecord>, now_ms: i64) -> String {
    match r.status.as_str() {
        "active" if grant.is_none_or(|g| g.expires_ms <= now_ms) => "expired".into(),
        "approved" | "activating" if r.window_end_ms.is_some_and(|w| w <= now_ms) => "expired".into(),
        "pending" if r.pending_until_ms <= now_ms => "timed_out".into(),
        s => s.into(),
    }
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
        review_status: r.review_status.clone(),
        reviewed_by: r.reviewed_by.clone(),
        review_note: r.review_note.clone(),
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

async fn view_of(state: &AppState, r: &AccessRequestRecord, now_ms: i64) -> Result<AccessRequestView, AppError> {
    let grant = state.store.access_grant(r.id).await.map_err(db)?;
    Ok(view(state, r, grant, now_ms))
}

/// Views of several requests with their grants read in one query.
async fn views<'a>(
    state: &AppState,
    records: impl IntoIterator<Item = &'a AccessRequestRecord>,
    now_ms: i64,
) -> Result<Vec<AccessRequestView>, AppError> {
    let records: Vec<&AccessRequestRecord> = records.into_iter().collect();
    let ids: Vec<i64> = records.iter().map(|r| r.id).collect();
    let mut grants: std::collections::HashMap<i64, GrantRecord> = state
        .store
        .access_grants_for(&ids)
        .await
        .map_err(db)?
        .into_iter()
        .map(|g| (g.request_id, g))
        .collect();
    Ok(records
        .into_iter()
        .map(|r| view(state, r, grants.remove(&r.id), now_ms))
        .collect())
}

async fn load(state: &AppState, id: i64) -> Result<AccessRequestRecord, AppError> {
    state
        .store
        .access_get(id)
        .await
        .map_err(db)?
        .ok_or_else(|| AppError::NotFound(format!("access request {id}")))
}

fn slack_message(
    state: &AppState,
    r: &AccessRequestRecord,
    headline: &str,
    body: &str,
    link: &str,
    key: String,
) -> NewOutbox {
    let demo = state.environment(&r.environment).is_some_and(|e| e.demo);
    let headline = format!("{}{headline}", if demo { "[demo] " } else { "" });
    let fields = [
        ("Requester", r.requester.clone()),
        ("Environment / profile", format!("{} / {}", r.environment, r.profile)),
        ("Duration", format!("{} min", r.duration_minutes)),
        (
            "Ticket / incident",
            match (r.ticket.as_str(), r.incident_id) {
                ("", None) => "-".to_string(),
                (t, None) => t.to_string(),
                ("", Some(i)) => format!("incident #{i}"),
                (t, Some(i)) => format!("{t}, incident #{i}"),
            },
        ),
    ];
    let text = if body.is_empty() {
        format!("Reason: {}", r.reason)
    } else {
        body.to_string()
    };
    let msg = super::slack::message(&headline, &fields, &text, "Open the request", link);
    NewOutbox {
        idempotency_key: key,
        environment: r.environment.clone(),
        payload: msg.to_string(),
    }
}

fn request_link(state: &AppState, id: i64) -> String {
    format!("{}/access/requests/{id}", state.config.base_url())
}

fn check_text(field: &str, value: &str, max: usize) -> Result<String, AppError> {
    super::incidents::text(field, value, max, false)
}

pub struct NewRequest {
    pub environment: String,
    pub profile: String,
    pub reason: String,
    pub ticket: String,
    pub incident_id: i64,
    pub minutes: u32,
    pub extends_id: i64,
}

async fn open_incident(state: &AppState, id: i64, env: &str) -> Result<super::store::IncidentRecord, AppError> {
    let i = state
        .store
        .incident_get(id)
        .await
        .map_err(db)?
        .ok_or_else(|| AppError::Invalid(format!("incident: no incident {id}")))?;
    if i.environment != env {
        return Err(AppError::Invalid(format!(
            "incident: incident {id} is in {}, not {env}",
            i.environment
        )));
    }
    if !IncidentStatus::parse(&i.status).is_some_and(|s| s.is_open()) {
        return Err(AppError::Invalid(format!("incident: incident {id} is {}", i.status)));
    }
    Ok(i)
}

/// A responder asks for a profile: a pending request, posted to Slack with a signed link.
pub async fn request(state: &AppState, caller: &Caller, q: NewRequest) -> Result<i64, AppError> {
    let env = q.environment.trim().to_string();
    state
        .environment(&env)
        .ok_or_else(|| AppError::Invalid(format!("environment: no environment \"{env}\"")))?;
    let p = profile(state, &env, q.profile.trim())
        .ok_or_else(|| AppError::Invalid(format!("profile: {env} has no access profile \"{}\"", q.profile.trim())))?;
    if p.emergency {
        return Err(AppError::Invalid(format!(
            "profile: {} is the emergency profile: use the break-glass path during a SEV1/SEV2 incident",
            p.name
        )));
    }
    may_request(caller, &p)?;
    if p.require_mfa {
        caller.require_fresh_mfa(state.config.auth.mode, "/access")?;
    }
    let reason = check_text("reason", &q.reason, 500)?;
    let ticket = q.ticket.trim().to_string();
    if let Some(pattern) = &p.ticket_pattern {
        let re = regex::Regex::new(pattern).map_err(|e| AppError::Internal(e.to_string()))?;
        if !re.is_match(&ticket) {
            return Err(AppError::Invalid(format!(
                "ticket: profile {} needs a ticket matching {pattern}",
                p.name
            )));
        }
    } else if ticket.len() > 64 || ticket.chars().any(char::is_control) {
        return Err(AppError::Invalid("ticket: at most 64 printable characters".into()));
    }
    if q.minutes == 0 || q.minutes > p.max_minutes.min(60) {
        return Err(AppError::Invalid(format!(
            "minutes: 1 to {} for profile {} (sessions are limited to 1 hour)",
            p.max_minutes.min(60),
            p.name
        )));
    }
    let incident_id = if q.incident_id > 0 {
        Some(open_incident(state, q.incident_id, &env).await?.id)
    } else {
        None
    };
    let t = now();
    let mine = state.store.access_list(500).await.map_err(db)?;
    if mine.iter().any(|r| {
        r.requester == caller.subject
            && r.environment == env
            && r.profile == p.name
            && effective_status(r, None, t) == "pending"
    }) {
        return Err(AppError::Conflict(format!(
            "you already have a pending request for {} on {env}",
            p.name
        )));
    }
    let extends_id = if q.extends_id > 0 {
        let old = load(state, q.extends_id).await?;
        if old.requester != caller.subject || old.environment != env || old.profile != p.name || old.status != "active"
        {
            return Err(AppError::Invalid(
                "extends: only your own active grant of the same profile can be extended".into(),
            ));
        }
        Some(old.id)
    } else {
        None
    };
    let pending_until = t + i64::from(state.config.access.pending_expiry_minutes) * 60_000;
    let rec = AccessRequestRecord {
        environment: env.clone(),
        profile: p.name.clone(),
        requester: caller.subject.clone(),
        reason: reason.clone(),
        ticket: ticket.clone(),
        incident_id,
        duration_minutes: i64::from(q.minutes),
        extends_id,
        status: "pending".into(),
        created_ms: t,
        pending_until_ms: pending_until,
        updated_ms: t,
        ..AccessRequestRecord::default()
    };
    let (state2, rec2, who) = (state.clone(), rec.clone(), caller.subject.clone());
    let approvals = p.approvals;
    let id = state
        .store
        .access_create(
            state.audit_key(),
            &rec,
            Box::new(move |id| {
                let mut r = rec2;
                r.id = id;
                let token = super::links::sign(&state2.link_key(), id, pending_until);
                let link = format!("{}?t={token}", request_link(&state2, id));
                let headline = format!(
                    "Access request #{id}: {} asks for {} on {}{}",
                    r.requester,
                    r.profile,
                    r.environment,
                    if extends_id.is_some() { " (extension)" } else { "" }
                );
                let body = format!(
                    "Reason: {}\nNeeds {approvals} approval(s) from an approver other than {}; the link expires with the request.",
                    r.reason, r.requester
                );
                Effects {
                    entries: incident_id
                        .map(|i| {
                            entry(
                                i,
                                t,
                                "access",
                                &who,
                                format!("Access request #{id}: {} for {} min: {}", r.profile, r.duration_minutes, r.reason),
                            )
                        })
                        .into_iter()
                        .collect(),
                    outbox: vec![slack_message(&state2, &r, &headline, &body, &link, format!("access-{id}-requested"))],
                    audit: vec![audit(
                        &who,
                        "access.request",
                        id,
                        serde_json::json!({"environment": r.environment, "profile": r.profile, "minutes": r.duration_minutes,
                            "ticket": r.ticket, "incident": incident_id, "extends": extends_id, "reason": r.reason}),
                    )],
                }
            }),
        )
        .await
        .map_err(db)?;
    Ok(id)
}

/// The approval link of a request (what Slack got), for the request's page and tests.
pub fn link_for(state: &AppState, r: &AccessRequestRecord) -> String {
    let token = super::links::sign(&state.link_key(), r.id, r.pending_until_ms);
    format!("{}?t={token}", request_link(state, r.id))
}

fn check_link(state: &AppState, r: &AccessRequestRecord, token: &str, now_ms: i64) -> Result<(), AppError> {
    super::links::verify(&state.link_key(), token, r.id, now_ms).map_err(|e| AppError::Forbidden(e.into()))?;
    if r.status != "pending" {
        return Err(AppError::Forbidden(format!(
            "the approval link is no longer valid: the request is {}",
            r.status
        )));
    }
    Ok(())
}

/// An approver approves or denies. With a link token (from Slack) the token must still be valid;
/// either way the decision is the approver's own, by their login.
pub async fn decide(
    state: &AppState,
    caller: &Caller,
    id: i64,
    approve: bool,
    comment: &str,
    token: &str,
) -> Result<String, AppError> {
    let r = load(state, id).await?;
    let p = profile(state, &r.environment, &r.profile)
        .ok_or_else(|| AppError::Unavailable(format!("profile {} is no longer configured", r.profile)))?;
    may_decide(caller, &r, &p)?;
    if p.require_mfa {
        caller.require_fresh_mfa(state.config.auth.mode, &format!("/access/requests/{id}"))?;
    }
    let t = now();
    if !token.trim().is_empty() {
        check_link(state, &r, token.trim(), t)?;
    }
    let comment = if comment.trim().is_empty() {
        if !approve {
            return Err(AppError::Invalid("comment: say why the request is denied".into()));
        }
        String::new()
    } else {
        check_text("comment", comment, 500)?
    };
    let (state2, r2, who, comment2) = (state.clone(), r.clone(), caller.subject.clone(), comment.clone());
    let needed = i64::from(p.approvals);
    let window_ms = r.duration_minutes * 60_000;
    let outcome = state
        .store
        .access_decide(
            state.audit_key(),
            id,
            &caller.subject,
            approve,
            &comment,
            needed,
            window_ms,
            t,
            Box::new(move |outcome| {
                let mut e = Effects::default();
                let action = if approve { "access.approve" } else { "access.deny" };
                e.audit.push(audit(
                    &who,
                    action,
                    id,
                    serde_json::json!({"comment": comment2, "outcome": format!("{outcome:?}")}),
                ));
                let link = request_link(&state2, id);
                let line = match outcome {
                    Decided::Approved => Some(format!(
                        "Access request #{id} approved by {who}: {} may activate {} for {} min",
                        r2.requester, r2.profile, r2.duration_minutes
                    )),
                    Decided::Denied => Some(format!("Access request #{id} denied by {who}: {comment2}")),
                    _ => None,
                };
                if let Some(line) = line {
                    e.outbox.push(slack_message(
                        &state2,
                        &r2,
                        &line,
                        &line,
                        &link,
                        format!("access-{id}-decided"),
                    ));
                    if let Some(i) = r2.incident_id {
                        e.entries.push(entry(i, now(), "access", &who, line));
                    }
                }
                e
            }),
        )
        .await
        .map_err(db)?;
    match outcome {
        Decided::NotPending => Err(AppError::Conflict(format!(
            "access request {id} is no longer pending ({})",
            effective_status(&load(state, id).await?, None, now())
        ))),
        Decided::AlreadyDecided => Err(AppError::Conflict(format!(
            "you already decided on access request {id}"
        ))),
        Decided::Recorded { approvals } => Ok(format!("pending ({approvals} of {needed} approvals)")),
        Decided::Approved => Ok("approved".into()),
        Decided::Denied => Ok("denied".into()),
    }
}

pub async fn cancel(state: &AppState, caller: &Caller, id: i64) -> Result<(), AppError> {
    let r = load(state, id).await?;
    if r.requester != caller.subject {
        return Err(AppError::Forbidden("only the requester cancels a request".into()));
    }
    let t = now();
    let done = state
        .store
        .access_transition(
            state.audit_key(),
            id,
            &["pending"],
            "cancelled",
            vec![
                Patch::Int("ended_ms", Some(t)),
                Patch::Text("ended_by", caller.subject.clone()),
            ],
            t,
            Effects {
                audit: vec![audit(&caller.subject, "access.cancel", id, serde_json::json!({}))],
                ..Effects::default()
            },
        )
        .await
        .map_err(db)?;
    if done {
        Ok(())
    } else {
        Err(AppError::Conflict(format!(
            "access request {id} is {}, not pending",
            r.status
        )))
    }
}

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
    if p.require_mfa {
        caller.require_fresh_mfa(state.config.auth.mode, &format!("/access/requests/{id}"))?;
    }
    let t = now();
    let window_end = r.window_end_ms.unwrap_or(0);
    if r.status != "approved" || window_end <= t {
        return Err(AppError::Conflict(format!(
            "access request {id} is {}: only an approved request within its window is activated",
            effective_status(&r, None, t)
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
            state.audit_key(),
            id,
            &["approved"],
            "activating",
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
        .await
        .map_err(db)?;
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
                    state.audit_key(),
                    id,
                    &["activating"],
                    "approved",
                    vec![],
                    now(),
                    Effects {
                        audit: vec![
                            NewAuditEntry::new(
                                &caller.subject,
                                "access.activate",
                                &format!("access:{id}"),
                                "failed",
                                serde_json::json!({"error": e.to_string()}),
                            )
                            .with_request_id(&super::auth::request_id()),
                        ],
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
    let stored = state
        .store
        .access_activated(state.audit_key(), &grant, now(), effects)
        .await;
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
pub async fn revoke(state: &AppState, caller: &Caller, id: i64, reason: &str) -> Result<(), AppError> {
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
    let reason = if reason.trim().is_empty() {
        String::new()
    } else {
        check_text("reason", reason, 500)?
    };
    let t = now();
    let grant = state.store.access_grant(id).await.map_err(db)?;
    let mut detail = serde_json::json!({"reason": reason});
    if r.status == "active"
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
            state.audit_key(),
            id,
            &["approved", "active"],
            "revoked",
            vec![
                Patch::Int("ended_ms", Some(t)),
                Patch::Text("ended_by", caller.subject.clone()),
            ],
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
        .await
        .map_err(db)?;
    if done {
        Ok(())
    } else {
        Err(AppError::Conflict(format!(
            "access request {id} is {}: nothing to revoke",
            r.status
        )))
    }
}

/// Break-glass (seed 004 "Emergency Access"): during a declared SEV1/SEV2 incident a responder
/// self-approves an emergency profile with a reason; the window is `access.emergency_minutes`;
/// Slack hears of it at once; an approver other than the grantee must review it afterwards.
pub async fn emergency(
    state: &AppState,
    caller: &Caller,
    environment: &str,
    profile_name: &str,
    incident_id: i64,
    reason: &str,
) -> Result<i64, AppError> {
    let env = environment.trim();
    let p = profile(state, env, profile_name.trim()).ok_or_else(|| {
        AppError::Invalid(format!(
            "profile: {env} has no access profile \"{}\"",
            profile_name.trim()
        ))
    })?;
    if !p.emergency {
        return Err(AppError::Invalid(format!(
            "profile: {} is not an emergency profile",
            p.name
        )));
    }
    may_request(caller, &p)?;
    if p.require_mfa {
        caller.require_fresh_mfa(state.config.auth.mode, "/access")?;
    }
    let reason = check_text("reason", reason, 500)?;
    if incident_id <= 0 {
        return Err(AppError::Invalid(
            "incident: break-glass access needs a declared SEV1 or SEV2 incident".into(),
        ));
    }
    let inc = open_incident(state, incident_id, env).await?;
    if inc.severity > 2 {
        return Err(AppError::Invalid(format!(
            "incident: incident {} is SEV{}; break-glass access is for SEV1 and SEV2",
            inc.id, inc.severity
        )));
    }
    let t = now();
    let minutes = i64::from(state.config.access.emergency_minutes.min(p.max_minutes).min(60));
    let self_declared = inc.declared_by == caller.subject;
    let rec = AccessRequestRecord {
        environment: env.to_string(),
        profile: p.name.clone(),
        requester: caller.subject.clone(),
        reason: reason.clone(),
        incident_id: Some(inc.id),
        duration_minutes: minutes,
        emergency: true,
        status: "approved".into(),
        created_ms: t,
        pending_until_ms: t,
        approved_ms: Some(t),
        window_end_ms: Some(t + minutes * 60_000),
        review_status: "pending".into(),
        updated_ms: t,
        ..AccessRequestRecord::default()
    };
    let (state2, rec2, who) = (state.clone(), rec.clone(), caller.subject.clone());
    let id = state
        .store
        .access_create(
            state.audit_key(),
            &rec,
            Box::new(move |id| {
                let mut r = rec2;
                r.id = id;
                let line = format!(
                    "BREAK-GLASS #{id}: {} took {} on {} for {minutes} min during incident #{} (SEV{}): {}{}",
                    r.requester,
                    r.profile,
                    r.environment,
                    inc.id,
                    inc.severity,
                    r.reason,
                    if self_declared {
                        " (the grantee also declared the incident)"
                    } else {
                        ""
                    }
                );
                Effects {
                    entries: vec![entry(inc.id, t, "access", &who, line.clone())],
                    outbox: vec![slack_message(
                        &state2,
                        &r,
                        &line,
                        &line,
                        &request_link(&state2, id),
                        format!("access-{id}-emergency"),
                    )],
                    audit: vec![audit(
                        &who,
                        "access.emergency",
                        id,
                        serde_json::json!({"environment": r.environment, "profile": r.profile, "minutes": minutes,
                            "incident": inc.id, "severity": inc.severity, "reason": r.reason,
                            "grantee_declared_incident": self_declared}),
                    )],
                }
            }),
        )
        .await
        .map_err(db)?;
    Ok(id)
}

/// The post-incident review of an emergency grant, by an approver other than the grantee.
pub async fn review(state: &AppState, caller: &Caller, id: i64, note: &str) -> Result<(), AppError> {
    person_only(caller)?;
    caller.require(Role::Approver)?;
    let r = load(state, id).await?;
    if !r.emergency || r.review_status != "pending" {
        return Err(AppError::Invalid(format!("access request {id} has no review waiting")));
    }
    if r.requester == caller.subject {
        return Err(AppError::Forbidden(
            "the grantee does not review their own emergency access".into(),
        ));
    }
    let note = check_text("note", note, 2000)?;
    let t = now();
    let done = state
        .store
        .access_transition(
            state.audit_key(),
            id,
            &[r.status.as_str()],
            &r.status,
            vec![
                Patch::Text("review_status", "done".into()),
                Patch::Text("reviewed_by", caller.subject.clone()),
                Patch::Text("review_note", note.clone()),
            ],
            t,
            Effects {
                entries: r
                    .incident_id
                    .map(|i| {
                        entry(
                            i,
                            t,
                            "access",
                            &caller.subject,
                            format!("Emergency access #{id} reviewed by {}: {note}", caller.subject),
                        )
                    })
                    .into_iter()
                    .collect(),
                outbox: vec![],
                audit: vec![audit(
                    &caller.subject,
                    "access.review",
                    id,
                    serde_json::json!({"note": note}),
                )],
            },
        )
        .await
        .map_err(db)?;
    if done {
        Ok(())
    } else {
        Err(AppError::Conflict(format!("access request {id} changed meanwhile")))
    }
}

/// Unreviewed emergency grants (the incidents list shows them).
pub async fn unreviewed(state: &AppState) -> Result<Vec<AccessRequestView>, AppError> {
    let t = now();
    let all = state.store.access_list(1000).await.map_err(db)?;
    views(
        state,
        all.iter().filter(|r| r.emergency && r.review_status == "pending"),
        t,
    )
    .await
}

/// The id of an active grant `subject` holds for `env`, if any (the rollback's second key).
pub async fn active_grant(state: &AppState, subject: &str, env: &str) -> Result<Option<i64>, AppError> {
    let t = now();
    let active = state.store.access_in_status(&["active"]).await.map_err(db)?;
    let held = views(
        state,
        active.iter().filter(|r| r.requester == subject && r.environment == env),
        t,
    )
    .await?;
    // `view` shows a grant past its expiry as expired.
    Ok(held.into_iter().find(|v| v.status == "active").map(|v| v.id))
}

pub async fn overview(state: &AppState, caller: &Caller) -> Result<AccessOverview, AppError> {
    caller.require(Role::Viewer)?;
    let t = now();
    let all = state.store.access_list(500).await.map_err(db)?;
    let mut to_decide = Vec::new();
    for r in &all {
        let pending = effective_status(r, None, t) == "pending";
        if pending
            && let Some(p) = profile(state, &r.environment, &r.profile)
            && may_decide(caller, r, &p).is_ok()
        {
            let decided = state
                .store
                .access_approvals(r.id)
                .await
                .map_err(db)?
                .iter()
                .any(|a| a.approver == caller.subject);
            if !decided {
                to_decide.push(r);
            }
        }
    }
    let mine = views(state, all.iter().filter(|r| r.requester == caller.subject), t).await?;
    let to_decide = views(state, to_decide, t).await?;
    let to_review = views(
        state,
        all.iter().filter(|r| r.emergency && r.review_status == "pending"),
        t,
    )
    .await?;
    let mut profiles = Vec::new();
    for e in state.environments() {
        for p in state.access_profiles(&e.name) {
            profiles.push(profile_info(state, caller, &e.name, &p));
        }
    }
    Ok(AccessOverview {
        mine,
        to_decide,
        to_review,
        profiles,
        now_ms: t,
    })
}

pub async fn detail(state: &AppState, caller: &Caller, id: i64, token: &str) -> Result<AccessDetail, AppError> {
    caller.require(Role::Viewer)?;
    let r = load(state, id).await?;
    let t = now();
    let request = view_of(state, &r, t).await?;
    let p = profile(state, &r.environment, &r.profile);
    let approvals = state
        .store
        .access_approvals(id)
        .await
        .map_err(db)?
        .into_iter()
        .map(|a| ApprovalView {
            approver: a.approver,
            decision: a.decision,
            comment: a.comment,
            at_ms: a.at_ms,
        })
        .collect::<Vec<_>>();
    let earlier = state.store.access_list(500).await.map_err(db)?;
    let history = views(
        state,
        earlier
            .iter()
            .filter(|h| h.requester == r.requester && h.id != r.id)
            .take(20),
        t,
    )
    .await?;
    let incident_title = match r.incident_id {
        Some(i) => state.store.incident_get(i).await.map_err(db)?.map(|i| i.title),
        None => None,
    };
    let decide_refused = match &p {
        None => Some("the profile is no longer configured".to_string()),
        Some(_) if request.status != "pending" => Some(format!("the request is {}", request.status)),
        Some(p) => match may_decide(caller, &r, p) {
            Err(e) => Some(e.to_string()),
            Ok(()) if approvals.iter().any(|a| a.approver == caller.subject) => Some("you already decided".into()),
            Ok(()) => None,
        },
    };
    let link_valid = if token.trim().is_empty() {
        None
    } else {
        Some(check_link(state, &r, token.trim(), t).is_ok())
    };
    Ok(AccessDetail {
        can_decide: decide_refused.is_none(),
        decide_refused,
        can_activate: r.requester == caller.subject && request.status == "approved",
        can_revoke: matches!(request.status.as_str(), "approved" | "active")
            && (r.requester == caller.subject
                || roles_allow(&caller.roles, Role::Approver)
                || roles_allow(&caller.roles, Role::Admin)),
        can_review: r.emergency
            && r.review_status == "pending"
            && r.requester != caller.subject
            && caller.roles.contains(&Role::Approver),
        approvals_needed: p.as_ref().map(|p| p.approvals).unwrap_or(1),
        profile: p.map(|p| profile_info(state, caller, &r.environment, &p)),
        request,
        approvals,
        history,
        incident_title,
        link_valid,
        now_ms: t,
    })
}

/// The expiry job: pending requests past `pending_expiry_minutes` time out; approved ones whose
/// window ended unused expire; active grants past their credentials' expiry expire.
pub async fn expire_due(state: &AppState) {
    let t = now();
    let Ok(open) = state
        .store
        .access_in_status(&["pending", "approved", "activating", "active"])
        .await
    else {
        return;
    };
    for r in open {
        let grant = if r.status == "active" {
            state.store.access_grant(r.id).await.ok().flatten()
        } else {
            None
        };
        let (to, why) = match r.status.as_str() {
            "pending" if r.pending_until_ms <= t => ("timed_out", "no decision in time"),
            "approved" | "activating" if r.window_end_ms.is_some_and(|w| w <= t) => {
                ("expired", "the window ended unused")
            }
            "active" if grant.as_ref().is_none_or(|g| g.expires_ms <= t) => ("expired", "the credentials expired"),
            _ => continue,
        };
        let line = format!(
            "Access #{} ({} on {}) {}: {why}",
            r.id,
            r.profile,
            r.environment,
            to.replace('_', " ")
        );
        let effects = Effects {
            entries: r
                .incident_id
                .map(|i| entry(i, t, "access", "ops-console", line))
                .into_iter()
                .collect(),
            outbox: vec![],
            audit: vec![NewAuditEntry::new(
                "ops-console",
                &format!("access.{to}"),
                &format!("access:{}", r.id),
                "ok",
                serde_json::json!({"why": why}),
            )],
        };
        if let Err(e) = state
            .store
            .access_transition(
                state.audit_key(),
                r.id,
                &[r.status.as_str()],
                to,
                vec![Patch::Int("ended_ms", Some(t))],
                t,
                effects,
            )
            .await
        {
            tracing::warn!(error = %e, id = r.id, "access expiry: could not record");
        }
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

    #[test]
    fn an_active_grant_past_expiry_is_shown_expired() {
        let r = AccessRequestRecord {
            status: "active".into(),
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
        assert_eq!(effective_status(&r, Some(&g), 999), "active");
        assert_eq!(effective_status(&r, Some(&g), 1_000), "expired");
    }
}
