//! What people do with access requests: ask, decide, cancel, take break-glass access and review
//! it afterwards. Every transition is one guarded update in the same transaction as its audit entry.

use super::notify::{request_link, slack_message};
use super::policy::{check_link, may_decide, may_request, may_review_grant, profile};
use super::present::effective_status;
use super::queries::load;
use crate::error::AppError;
use crate::model::{AccessStatus, ReviewStatus};
use crate::ssr::audit::NewAuditEntry;
use crate::ssr::auth::{Caller, refuse_same_person};
use crate::ssr::kernel::clock::now;
use crate::ssr::kernel::effects::entry;
use crate::ssr::kernel::input::{Comment, Minutes, Reason, ReviewNote, Ticket};
use crate::ssr::state::AppState;
use crate::ssr::store::{AccessChange, AccessRequestRecord, Decided, Effects, IncidentRecord};

/// An audit entry of an access request (`access:{id}`).
pub(super) fn audit(actor: &str, action: &str, id: i64, detail: serde_json::Value) -> NewAuditEntry {
    crate::ssr::kernel::effects::audit(actor, action, &format!("access:{id}"), detail)
}

/// An access request, its input checked. The ticket (a checked `Ticket`: one line, at most 64
/// characters) must also match the profile's pattern as a whole; `incident_id` and `extends_id`
/// 0: none.
pub struct NewRequest {
    pub environment: String,
    pub profile: String,
    pub reason: Reason,
    pub ticket: Option<Ticket>,
    pub incident_id: i64,
    pub minutes: Minutes,
    pub extends_id: i64,
}

async fn open_incident(state: &AppState, id: i64, env: &str) -> Result<IncidentRecord, AppError> {
    let i = state
        .store
        .incident_get(id)
        .await?
        .ok_or_else(|| AppError::Invalid(format!("incident: no incident {id}")))?;
    if i.environment != env {
        return Err(AppError::Invalid(format!(
            "incident: incident {id} is in {}, not {env}",
            i.environment
        )));
    }
    if !i.status.is_open() {
        return Err(AppError::Invalid(format!(
            "incident: incident {id} is {}",
            i.status.label()
        )));
    }
    Ok(i)
}

/// How approvers see a person: "Name <verified email> (login subject)", from their last login.
async fn person_label(state: &AppState, subject: &str) -> Result<String, AppError> {
    let u = state.store.user(subject).await?;
    let name = u
        .as_ref()
        .map(|u| u.name.as_str())
        .filter(|n| !n.is_empty() && *n != subject);
    let email = u.as_ref().map(|u| u.email.as_str()).filter(|e| !e.is_empty());
    Ok(match (name, email) {
        (Some(n), Some(e)) => format!("{n} <{e}> ({subject})"),
        (None, Some(e)) => format!("<{e}> ({subject})"),
        (Some(n), None) => format!("{n} ({subject}, no verified email)"),
        (None, None) => format!("{subject} (no verified email)"),
    })
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
    let reason = q.reason.into_string();
    let ticket = q.ticket.map(Ticket::into_string).unwrap_or_default();
    if let Some(pattern) = &p.ticket_pattern {
        // The whole ticket must match: an unanchored pattern does not let any text around a match in.
        let re = regex::Regex::new(&format!("^(?:{pattern})$")).map_err(|e| AppError::Internal(e.to_string()))?;
        if !re.is_match(&ticket) {
            return Err(AppError::Invalid(format!(
                "ticket: profile {} needs a ticket matching {pattern}",
                p.name
            )));
        }
    }
    if q.minutes.get() > p.max_minutes.min(60) {
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
    let mine = state.store.access_list(500).await?;
    if mine.iter().any(|r| {
        r.requester == caller.subject
            && r.environment == env
            && r.profile == p.name
            && effective_status(r, None, t) == AccessStatus::Pending
    }) {
        return Err(AppError::Conflict(format!(
            "you already have a pending request for {} on {env}",
            p.name
        )));
    }
    let extends_id = if q.extends_id > 0 {
        let old = load(state, q.extends_id).await?;
        if old.requester != caller.subject
            || old.environment != env
            || old.profile != p.name
            || old.status != AccessStatus::Active
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
        duration_minutes: i64::from(q.minutes.get()),
        extends_id,
        status: AccessStatus::Pending,
        created_ms: t,
        pending_until_ms: pending_until,
        updated_ms: t,
        ..AccessRequestRecord::default()
    };
    let (state2, rec2, who) = (state.clone(), rec.clone(), caller.subject.clone());
    let approvals = p.approvals;
    let person = person_label(state, &caller.subject).await?;
    let id = state
        .store
        .access_create(
            &rec,
            Box::new(move |id| {
                let mut r = rec2;
                r.id = id;
                let token = crate::ssr::links::sign(&state2.link_key(), id, pending_until);
                let link = format!("{}?t={token}", request_link(&state2, id));
                let headline = format!(
                    "Access request #{id}: {person} asks for {} on {}{}",
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
        .await?;
    Ok(id)
}

/// An approver approves or denies. With a link token (from Slack) the token must still be valid;
/// either way the decision is the approver's own, by their login.
pub async fn decide(
    state: &AppState,
    caller: &Caller,
    id: i64,
    approve: bool,
    comment: Option<Comment>,
    token: &str,
) -> Result<String, AppError> {
    let r = load(state, id).await?;
    let p = profile(state, &r.environment, &r.profile)
        .ok_or_else(|| AppError::Unavailable(format!("profile {} is no longer configured", r.profile)))?;
    may_decide(caller, &r, &p)?;
    refuse_same_person(
        &*state.store,
        &caller.subject,
        &r.requester,
        "approves or denies their own access request",
    )
    .await?;
    // With several approvals needed, each is another person: not a second account of someone who
    // already decided.
    for a in state.store.access_approvals(id).await? {
        if a.approver != caller.subject
            && crate::ssr::auth::same_person(&*state.store, &caller.subject, &a.approver).await?
        {
            return Err(AppError::Forbidden(
                "two-person rule: you already decided on this request under another account".into(),
            ));
        }
    }
    if p.require_mfa {
        caller.require_fresh_mfa(state.config.auth.mode, &format!("/access/requests/{id}"))?;
    }
    let t = now();
    if !token.trim().is_empty() {
        check_link(state, &r, token.trim(), t)?;
    }
    let comment = match comment {
        Some(c) => c.into_string(),
        None if approve => String::new(),
        None => return Err(AppError::Invalid("comment: say why the request is denied".into())),
    };
    let (state2, r2, who, comment2) = (state.clone(), r.clone(), caller.subject.clone(), comment.clone());
    let needed = i64::from(p.approvals);
    let window_ms = r.duration_minutes * 60_000;
    let outcome = state
        .store
        .access_decide(
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
        .await?;
    match outcome {
        Decided::NotPending => Err(AppError::Conflict(format!(
            "access request {id} is no longer pending ({})",
            effective_status(&load(state, id).await?, None, now()).label()
        ))),
        Decided::AlreadyDecided => Err(AppError::Conflict(format!(
            "you already decided on access request {id}"
        ))),
        Decided::Recorded { approvals } => Ok(format!("pending ({approvals} of {needed} approvals)")),
        Decided::Approved => Ok(AccessStatus::Approved.label().into()),
        Decided::Denied => Ok(AccessStatus::Denied.label().into()),
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
            id,
            &[AccessStatus::Pending],
            AccessStatus::Cancelled,
            vec![AccessChange::EndedMs(t), AccessChange::EndedBy(caller.subject.clone())],
            t,
            Effects {
                audit: vec![audit(&caller.subject, "access.cancel", id, serde_json::json!({}))],
                ..Effects::default()
            },
        )
        .await?;
    if done {
        Ok(())
    } else {
        Err(AppError::Conflict(format!(
            "access request {id} is {}, not pending",
            r.status.label()
        )))
    }
}

/// Break-glass: during a declared SEV1/SEV2 incident a responder
/// self-approves an emergency profile with a reason; the window is `access.emergency_minutes`;
/// Slack hears of it at once; an approver other than the grantee must review it afterwards.
pub async fn emergency(
    state: &AppState,
    caller: &Caller,
    environment: &str,
    profile_name: &str,
    incident_id: i64,
    reason: Reason,
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
    let reason = reason.into_string();
    if incident_id <= 0 {
        return Err(AppError::Invalid(
            "incident: break-glass access needs a declared SEV1 or SEV2 incident".into(),
        ));
    }
    let inc = open_incident(state, incident_id, env).await?;
    if !inc.severity.is_major() {
        return Err(AppError::Invalid(format!(
            "incident: incident {} is SEV{}; break-glass access is for SEV1 and SEV2",
            inc.id,
            inc.severity.number()
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
        status: AccessStatus::Approved,
        created_ms: t,
        pending_until_ms: t,
        approved_ms: Some(t),
        window_end_ms: Some(t + minutes * 60_000),
        review_status: ReviewStatus::Pending,
        updated_ms: t,
        ..AccessRequestRecord::default()
    };
    let (state2, rec2, who) = (state.clone(), rec.clone(), caller.subject.clone());
    let id = state
        .store
        .access_create(
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
                    inc.severity.number(),
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
                            "incident": inc.id, "severity": inc.severity.number(), "reason": r.reason,
                            "grantee_declared_incident": self_declared}),
                    )],
                }
            }),
        )
        .await?;
    Ok(id)
}

/// A second review of one emergency grant: refused with 409, and the attempt is audited
/// (`access.review`, outcome `refused`).
async fn second_review(state: &AppState, caller: &Caller, id: i64, first_by: &str) -> AppError {
    let entry = crate::ssr::kernel::effects::audit_outcome(
        &caller.subject,
        "access.review",
        &format!("access:{id}"),
        "refused",
        serde_json::json!({"reason": "already reviewed", "reviewed_by": first_by}),
    );
    if let Err(e) = state.audit(entry).await {
        return e;
    }
    AppError::Conflict(format!(
        "access request {id} was already reviewed by {first_by}: an emergency grant is reviewed once"
    ))
}

/// The post-incident review of an emergency grant, once, by an approver of the profile's approver
/// groups other than the grantee.
pub async fn review(state: &AppState, caller: &Caller, id: i64, note: ReviewNote) -> Result<(), AppError> {
    super::policy::may_review(caller)?;
    let r = load(state, id).await?;
    if !r.emergency || r.review_status == ReviewStatus::NotNeeded {
        return Err(AppError::Invalid(format!("access request {id} has no review waiting")));
    }
    let p = profile(state, &r.environment, &r.profile)
        .ok_or_else(|| AppError::Unavailable(format!("profile {} is no longer configured", r.profile)))?;
    may_review_grant(caller, &r, &p)?;
    refuse_same_person(
        &*state.store,
        &caller.subject,
        &r.requester,
        "reviews their own emergency access",
    )
    .await?;
    if r.review_status == ReviewStatus::Done {
        return Err(second_review(state, caller, id, &r.reviewed_by).await);
    }
    let note = note.into_string();
    let t = now();
    let done = state
        .store
        .access_reviewed(
            id,
            &caller.subject,
            &note,
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
        .await?;
    if done {
        Ok(())
    } else {
        let first_by = load(state, id).await?.reviewed_by;
        Err(second_review(state, caller, id, &first_by).await)
    }
}
