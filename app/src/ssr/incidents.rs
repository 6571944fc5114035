//! Incidents (seed 004's process): declare, the status machine, severity and roles, notes and
//! pins, the timeline export and post-mortem, the Slack messages, and the guarded rollback.
//! Every action checks the caller, validates its input, and writes its rows, timeline entries,
//! outbox messages and audit entries in one transaction.

use super::audit::NewAuditEntry;
use super::auth::Caller;
use super::cloud::aws::ecs::short_taskdef as short;
use super::state::AppState;
use super::store::{Effects, IncidentRecord, NewOutbox, NewTimelineEntry, Patch, RollbackRecord, TimelineRecord};
use crate::error::AppError;
use crate::model::{
    IncidentStatus, IncidentSummary, IncidentView, Role, RollbackTarget, RollbackView, TimelineEntry,
    response_target_minutes, roles_allow,
};

pub(crate) fn db(e: super::store::StoreError) -> AppError {
    tracing::error!(error = %e, "store");
    AppError::Unavailable(format!("database: {e}"))
}

fn now() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Trimmed text of 1..=max printable characters (newlines allowed when `multiline`).
pub fn text(field: &str, value: &str, max: usize, multiline: bool) -> Result<String, AppError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(AppError::Invalid(format!("{field}: required")));
    }
    if v.chars().count() > max {
        return Err(AppError::Invalid(format!("{field}: at most {max} characters")));
    }
    if v.chars()
        .any(|c| c.is_control() && !(multiline && (c == '\n' || c == '\t' || c == '\r')))
    {
        return Err(AppError::Invalid(format!(
            "{field}: control characters are not allowed"
        )));
    }
    Ok(v.to_string())
}

fn optional_text(field: &str, value: &str, max: usize) -> Result<String, AppError> {
    if value.trim().is_empty() {
        Ok(String::new())
    } else {
        text(field, value, max, false)
    }
}

/// A comma-separated list of names (alarms, `cluster/service`), each checked.
pub fn names(field: &str, value: &str, service: bool) -> Result<Vec<String>, AppError> {
    let mut out: Vec<String> = Vec::new();
    for n in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let n = text(field, n, 255, false)?;
        if service && n.split('/').count() != 2 {
            return Err(AppError::Invalid(format!("{field}: \"{n}\" must be cluster/service")));
        }
        if !out.contains(&n) {
            out.push(n);
        }
    }
    if out.len() > 20 {
        return Err(AppError::Invalid(format!("{field}: at most 20")));
    }
    Ok(out)
}

pub fn severity(value: u8) -> Result<u8, AppError> {
    if (1..=4).contains(&value) {
        Ok(value)
    } else {
        Err(AppError::Invalid(format!("severity: {value} is not 1-4 (SEV1-SEV4)")))
    }
}

pub fn summary(state: &AppState, r: &IncidentRecord, now_ms: i64) -> IncidentSummary {
    let sev = r.severity.clamp(1, 4) as u8;
    let target = response_target_minutes(sev);
    let ack_after = r.acknowledged_ms.unwrap_or(now_ms) - r.started_ms;
    let status = IncidentStatus::parse(&r.status).unwrap_or(IncidentStatus::Triggered);
    IncidentSummary {
        id: r.id,
        title: r.title.clone(),
        environment: r.environment.clone(),
        demo: state.environment(&r.environment).is_some_and(|e| e.demo),
        severity: sev,
        status,
        commander: r.commander.clone(),
        communications: r.communications.clone(),
        alarms: r.alarms.clone(),
        services: r.services.clone(),
        ticket: r.ticket.clone(),
        declared_by: r.declared_by.clone(),
        started_ms: r.started_ms,
        acknowledged_ms: r.acknowledged_ms,
        resolved_ms: r.resolved_ms,
        closed_ms: r.closed_ms,
        target_minutes: target,
        ack_breached: ack_after > target * 60_000,
        has_postmortem: !r.postmortem.trim().is_empty(),
    }
}

fn entry_view(t: &TimelineRecord) -> TimelineEntry {
    TimelineEntry {
        id: t.id,
        at_ms: t.at_ms,
        recorded_ms: t.recorded_ms,
        kind: t.kind.clone(),
        actor: t.actor.clone(),
        text: t.text.clone(),
        pinned: t.pinned,
    }
}

pub fn rollback_view(r: &RollbackRecord) -> RollbackView {
    RollbackView {
        id: r.id,
        environment: r.environment.clone(),
        cluster: r.cluster.clone(),
        service: r.service.clone(),
        from_task_definition: short(&r.from_task_definition),
        to_task_definition: short(&r.to_task_definition),
        incident_id: r.incident_id,
        reason: r.reason.clone(),
        requested_by: r.requested_by.clone(),
        requested_ms: r.requested_ms,
        confirmed_by: r.confirmed_by.clone(),
        confirmed_ms: r.confirmed_ms,
        status: r.status.clone(),
        progress: r.progress.clone(),
        finished_ms: r.finished_ms,
    }
}

pub fn entry(incident_id: i64, at_ms: i64, kind: &str, actor: &str, text: String) -> NewTimelineEntry {
    NewTimelineEntry {
        incident_id,
        at_ms,
        kind: kind.into(),
        actor: actor.into(),
        text,
        detail: "{}".into(),
        dedupe_key: None,
    }
}

fn audit(caller: &Caller, action: &str, id: i64, detail: serde_json::Value) -> NewAuditEntry {
    NewAuditEntry::new(&caller.subject, action, &format!("incident:{id}"), "ok", detail)
        .with_request_id(&super::auth::request_id())
}

/// The Slack message of an incident event, queued in the outbox with `key` as idempotency key.
pub fn slack(state: &AppState, r: &IncidentRecord, headline: &str, body: &str, key: String) -> NewOutbox {
    let link = format!("{}/incidents/{}", state.config.base_url(), r.id);
    let demo = state.environment(&r.environment).is_some_and(|e| e.demo);
    let headline = format!(
        "{}SEV{} {headline}: {}",
        if demo { "[demo] " } else { "" },
        r.severity,
        r.title
    );
    let fields = [
        ("Environment", r.environment.clone()),
        ("Status", r.status.clone()),
        (
            "Commander",
            if r.commander.is_empty() {
                "unassigned".into()
            } else {
                r.commander.clone()
            },
        ),
        ("Incident", format!("#{}", r.id)),
    ];
    let msg = super::slack::message(&headline, &fields, body, "Open the timeline", &link);
    NewOutbox {
        idempotency_key: key,
        environment: r.environment.clone(),
        payload: msg.to_string(),
    }
}

pub struct Declare {
    pub environment: String,
    pub title: String,
    pub severity: u8,
    pub alarms: String,
    pub services: String,
    pub ticket: String,
    pub summary: String,
}

pub async fn declare(state: &AppState, caller: &Caller, d: Declare) -> Result<i64, AppError> {
    caller.require(Role::Responder)?;
    let meta = state
        .environment(d.environment.trim())
        .ok_or_else(|| AppError::Invalid(format!("environment: no environment \"{}\"", d.environment.trim())))?
        .clone();
    let title = text("title", &d.title, 200, false)?;
    let sev = severity(d.severity)?;
    let alarms = names("alarms", &d.alarms, false)?;
    let services = names("services", &d.services, true)?;
    let ticket = optional_text("ticket", &d.ticket, 64)?;
    let first_note = if d.summary.trim().is_empty() {
        String::new()
    } else {
        text("summary", &d.summary, 4000, true)?
    };
    let t = now();
    // The linked alarms as they are now, so the timeline starts with what triggered it.
    let current: Vec<crate::model::Alarm> = if alarms.is_empty() {
        vec![]
    } else {
        state.cloud(&meta).alarms_now(&meta.name).await.unwrap_or_default()
    };
    let rec = IncidentRecord {
        id: 0,
        title: title.clone(),
        environment: meta.name.clone(),
        severity: i64::from(sev),
        status: IncidentStatus::Triggered.label().into(),
        commander: caller.subject.clone(),
        communications: String::new(),
        alarms: alarms.clone(),
        services: services.clone(),
        ticket: ticket.clone(),
        declared_by: caller.subject.clone(),
        started_ms: t,
        acknowledged_ms: None,
        resolved_ms: None,
        closed_ms: None,
        postmortem: String::new(),
        updated_ms: t,
    };
    let (who, state2, rec2) = (caller.clone(), state.clone(), rec.clone());
    let id = state
        .store
        .incident_create(
            state.audit_key(),
            &rec,
            Box::new(move |id| {
                let mut entries = vec![entry(
                    id,
                    t,
                    "declared",
                    &who.subject,
                    format!("Declared SEV{sev}: {title} (commander {})", who.subject),
                )];
                if !first_note.is_empty() {
                    entries.push(entry(id, t, "note", &who.subject, first_note));
                }
                for a in current.iter().filter(|a| alarms.contains(&a.name)) {
                    entries.push(alarm_entry(id, &a.name, a.state, a.since_ms, &a.reason));
                }
                let mut r = rec2;
                r.id = id;
                Effects {
                    entries,
                    outbox: vec![slack(&state2, &r, "declared", "", format!("incident-{id}-declared"))],
                    audit: vec![audit(
                        &who,
                        "incident.declare",
                        id,
                        serde_json::json!({"environment": r.environment, "severity": sev, "alarms": r.alarms,
                            "services": r.services, "ticket": r.ticket}),
                    )],
                }
            }),
        )
        .await
        .map_err(db)?;
    Ok(id)
}

/// The timeline entry of an alarm state change at `at_ms` (recorded once per change).
pub fn alarm_entry(
    incident_id: i64,
    alarm: &str,
    state: crate::model::AlarmState,
    at_ms: i64,
    reason: &str,
) -> NewTimelineEntry {
    let word = state.label();
    let mut e = entry(
        incident_id,
        at_ms,
        "alarm",
        "cloudwatch",
        if reason.is_empty() {
            format!("{alarm} is {word}")
        } else {
            format!("{alarm} is {word}: {reason}")
        },
    );
    e.dedupe_key = Some(format!("alarm:{alarm}:{at_ms}:{word}"));
    e
}

async fn load(state: &AppState, id: i64) -> Result<IncidentRecord, AppError> {
    state
        .store
        .incident_get(id)
        .await
        .map_err(db)?
        .ok_or_else(|| AppError::NotFound(format!("incident {id}")))
}

fn changed() -> AppError {
    AppError::Conflict("the incident changed meanwhile; reload the page and decide again".into())
}

pub async fn transition(
    state: &AppState,
    caller: &Caller,
    id: i64,
    to: &str,
    note: &str,
) -> Result<IncidentStatus, AppError> {
    caller.require(Role::Responder)?;
    let to = IncidentStatus::parse(to.trim()).ok_or_else(|| {
        AppError::Invalid(format!(
            "status: \"{to}\" is not one of triggered, acknowledged, investigating, mitigated, resolved, closed"
        ))
    })?;
    let note = if note.trim().is_empty() {
        String::new()
    } else {
        text("note", note, 2000, true)?
    };
    let r = load(state, id).await?;
    let from = IncidentStatus::parse(&r.status).unwrap_or(IncidentStatus::Triggered);
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
    if to == IncidentStatus::Closed && r.severity <= 2 && r.postmortem.trim().is_empty() {
        return Err(AppError::Invalid(format!(
            "status: a SEV{} incident is closed only with a post-mortem; write and save it first",
            r.severity
        )));
    }
    let t = now();
    let mut patch = vec![Patch::Text("status", to.label().into())];
    match to {
        IncidentStatus::Acknowledged if r.acknowledged_ms.is_none() => {
            patch.push(Patch::Int("acknowledged_ms", Some(t)))
        }
        IncidentStatus::Resolved => patch.push(Patch::Int("resolved_ms", Some(t))),
        IncidentStatus::Closed => patch.push(Patch::Int("closed_ms", Some(t))),
        IncidentStatus::Investigating if from == IncidentStatus::Resolved => {
            patch.push(Patch::Int("resolved_ms", None))
        }
        _ => {}
    }
    // Acknowledging work that was never acknowledged also counts for the target.
    if r.acknowledged_ms.is_none() && to != IncidentStatus::Acknowledged {
        patch.push(Patch::Int("acknowledged_ms", Some(t)));
    }
    let mut text_line = format!("Status {} → {}", from.label(), to.label());
    if !note.is_empty() {
        text_line.push_str(": ");
        text_line.push_str(&note);
    }
    let mut after = r.clone();
    after.status = to.label().into();
    let mut outbox = vec![];
    if to == IncidentStatus::Resolved {
        outbox.push(slack(
            state,
            &after,
            "resolved",
            &note,
            format!("incident-{id}-resolved-{t}"),
        ));
    }
    let effects = Effects {
        entries: vec![entry(id, t, "status", &caller.subject, text_line)],
        outbox,
        audit: vec![audit(
            caller,
            "incident.status",
            id,
            serde_json::json!({"from": from.label(), "to": to.label(), "note": note}),
        )],
    };
    let done = state
        .store
        .incident_update(state.audit_key(), id, &r.status, patch, t, effects)
        .await
        .map_err(db)?;
    if done { Ok(to) } else { Err(changed()) }
}

pub async fn set_severity(state: &AppState, caller: &Caller, id: i64, sev: u8, reason: &str) -> Result<(), AppError> {
    caller.require(Role::Responder)?;
    let sev = severity(sev)?;
    let reason = text("reason", reason, 500, false)?;
    let r = load(state, id).await?;
    if r.status == IncidentStatus::Closed.label() {
        return Err(AppError::Invalid("severity: the incident is closed".into()));
    }
    if r.severity == i64::from(sev) {
        return Err(AppError::Invalid(format!("severity: already SEV{sev}")));
    }
    let t = now();
    let mut after = r.clone();
    after.severity = i64::from(sev);
    let line = format!("Severity SEV{} → SEV{sev}: {reason}", r.severity);
    let effects = Effects {
        entries: vec![entry(id, t, "severity", &caller.subject, line.clone())],
        outbox: vec![slack(
            state,
            &after,
            "severity changed",
            &line,
            format!("incident-{id}-sev-{t}"),
        )],
        audit: vec![audit(
            caller,
            "incident.severity",
            id,
            serde_json::json!({"from": r.severity, "to": sev, "reason": reason}),
        )],
    };
    let done = state
        .store
        .incident_update(
            state.audit_key(),
            id,
            &r.status,
            vec![Patch::Int("severity", Some(i64::from(sev)))],
            t,
            effects,
        )
        .await
        .map_err(db)?;
    if done { Ok(()) } else { Err(changed()) }
}

fn person(field: &str, v: &str) -> Result<String, AppError> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(String::new());
    }
    if v.len() > 100 || !v.chars().all(|c| c.is_alphanumeric() || "._@-+:".contains(c)) {
        return Err(AppError::Invalid(format!(
            "{field}: a user name of letters, digits and . _ @ - + :"
        )));
    }
    Ok(v.to_string())
}

pub async fn set_roles(
    state: &AppState,
    caller: &Caller,
    id: i64,
    commander: &str,
    communications: &str,
) -> Result<(), AppError> {
    caller.require(Role::Responder)?;
    let commander = person("commander", commander)?;
    let communications = person("communications", communications)?;
    let r = load(state, id).await?;
    if r.commander == commander && r.communications == communications {
        return Ok(());
    }
    let t = now();
    let line = format!(
        "Roles: commander {}, communications {}",
        if commander.is_empty() { "unassigned" } else { &commander },
        if communications.is_empty() {
            "unassigned"
        } else {
            &communications
        }
    );
    let effects = Effects {
        entries: vec![entry(id, t, "roles", &caller.subject, line)],
        outbox: vec![],
        audit: vec![audit(
            caller,
            "incident.roles",
            id,
            serde_json::json!({"commander": commander, "communications": communications}),
        )],
    };
    let done = state
        .store
        .incident_update(
            state.audit_key(),
            id,
            &r.status,
            vec![
                Patch::Text("commander", commander),
                Patch::Text("communications", communications),
            ],
            t,
            effects,
        )
        .await
        .map_err(db)?;
    if done { Ok(()) } else { Err(changed()) }
}

/// A note or status update ("update"); on a closed incident too (corrections are new entries).
pub async fn add_note(state: &AppState, caller: &Caller, id: i64, kind: &str, body: &str) -> Result<(), AppError> {
    caller.require(Role::Responder)?;
    let kind = match kind.trim() {
        "" | "note" => "note",
        "update" => "update",
        "correction" => "correction",
        other => {
            return Err(AppError::Invalid(format!(
                "kind: \"{other}\" is not note, update or correction"
            )));
        }
    };
    let body = text("text", body, 4000, true)?;
    load(state, id).await?;
    let t = now();
    let effects = Effects {
        entries: vec![entry(id, t, kind, &caller.subject, body.clone())],
        outbox: vec![],
        audit: vec![audit(
            caller,
            &format!("incident.{kind}"),
            id,
            serde_json::json!({"chars": body.chars().count()}),
        )],
    };
    state
        .store
        .effects_apply(state.audit_key(), effects)
        .await
        .map_err(db)?;
    Ok(())
}

pub async fn pin(state: &AppState, caller: &Caller, id: i64, entry_id: i64, pinned: bool) -> Result<(), AppError> {
    caller.require(Role::Responder)?;
    load(state, id).await?;
    let effects = Effects {
        audit: vec![audit(
            caller,
            if pinned { "incident.pin" } else { "incident.unpin" },
            id,
            serde_json::json!({"entry": entry_id}),
        )],
        ..Effects::default()
    };
    let done = state
        .store
        .timeline_pin(state.audit_key(), id, entry_id, pinned, effects)
        .await
        .map_err(db)?;
    if done {
        Ok(())
    } else {
        Err(AppError::NotFound(format!("entry {entry_id} of incident {id}")))
    }
}

pub async fn save_postmortem(state: &AppState, caller: &Caller, id: i64, body: &str) -> Result<(), AppError> {
    caller.require(Role::Responder)?;
    let body = text("postmortem", body, 50_000, true)?;
    let r = load(state, id).await?;
    let t = now();
    let effects = Effects {
        entries: vec![entry(
            id,
            t,
            "postmortem",
            &caller.subject,
            format!("Post-mortem saved ({} characters)", body.chars().count()),
        )],
        outbox: vec![],
        audit: vec![audit(
            caller,
            "incident.postmortem",
            id,
            serde_json::json!({"chars": body.chars().count()}),
        )],
    };
    let done = state
        .store
        .incident_update(
            state.audit_key(),
            id,
            &r.status,
            vec![Patch::Text("postmortem", body)],
            t,
            effects,
        )
        .await
        .map_err(db)?;
    if done { Ok(()) } else { Err(changed()) }
}

pub async fn view(state: &AppState, caller: &Caller, id: i64) -> Result<IncidentView, AppError> {
    caller.require(Role::Viewer)?;
    let r = load(state, id).await?;
    let t = now();
    let entries: Vec<TimelineEntry> = state
        .store
        .timeline(id)
        .await
        .map_err(db)?
        .iter()
        .map(entry_view)
        .collect();
    let rollbacks = state
        .store
        .rollback_list("", "", Some(id))
        .await
        .map_err(db)?
        .iter()
        .map(rollback_view)
        .collect();
    let incident = summary(state, &r, t);
    let draft = postmortem_draft(&incident, &entries);
    let chart = linked_chart(state, &r, t).await;
    Ok(IncidentView {
        next_statuses: incident.status.next().to_vec(),
        incident,
        entries,
        rollbacks,
        postmortem: r.postmortem,
        postmortem_draft: draft,
        chart,
        now_ms: t,
    })
}

/// The chart of the first linked alarm's metric (the one that carries its threshold) over a
/// range that covers the incident and the half hour before it. None when it cannot be read.
async fn linked_chart(state: &AppState, r: &IncidentRecord, now_ms: i64) -> Option<crate::model::Chart> {
    use crate::model::TimeRange;
    if r.alarms.is_empty() {
        return None;
    }
    let meta = state.environment(&r.environment)?.clone();
    let cloud = state.cloud(&meta);
    let inv = cloud.inventory(&meta.name, now_ms).await.ok()?;
    let alarm = inv
        .alarms
        .iter()
        .find(|a| r.alarms.contains(&a.name) && a.threshold.is_some())?
        .clone();
    let window = now_ms - (r.started_ms - 30 * 60_000);
    let range = match window {
        w if w <= 3_600_000 => TimeRange::H1,
        w if w <= 6 * 3_600_000 => TimeRange::H6,
        w if w <= 24 * 3_600_000 => TimeRange::H24,
        _ => TimeRange::D7,
    };
    let (charts, _) = cloud.metrics(&meta.name, &inv, range, now_ms).await.ok()?;
    let mut c = charts
        .into_iter()
        .find(|c| c.threshold == alarm.threshold && c.series.iter().any(|s| !s.points.is_empty()))?;
    c.title = format!("{} (alarm {})", c.title, alarm.name);
    Some(c)
}

/// Filters: environment and status ("open", a status word, or empty) and severity (0: all).
pub async fn list(
    state: &AppState,
    caller: &Caller,
    environment: &str,
    status: &str,
    sev: u8,
) -> Result<crate::model::IncidentList, AppError> {
    caller.require(Role::Viewer)?;
    let status = status.trim();
    if !(status.is_empty() || status == "open" || IncidentStatus::parse(status).is_some()) {
        return Err(AppError::Invalid(format!(
            "status: \"{status}\" is not open or a status"
        )));
    }
    if sev > 4 {
        return Err(AppError::Invalid("severity: 0 (all) or 1-4".into()));
    }
    let t = now();
    let mut out: Vec<IncidentSummary> = state
        .store
        .incident_list(500)
        .await
        .map_err(db)?
        .iter()
        .map(|r| summary(state, r, t))
        .filter(|s| environment.trim().is_empty() || s.environment == environment.trim())
        .filter(|s| sev == 0 || s.severity == sev)
        .filter(|s| match status {
            "" => true,
            "open" => s.status.is_open(),
            w => s.status.label() == w,
        })
        .collect();
    // Open first, then by severity, newest first.
    out.sort_by(|a, b| {
        b.status
            .is_open()
            .cmp(&a.status.is_open())
            .then(a.severity.cmp(&b.severity))
            .then(b.started_ms.cmp(&a.started_ms))
    });
    Ok(crate::model::IncidentList {
        incidents: out,
        emergency_reviews: super::access::unreviewed(state).await?,
        now_ms: t,
    })
}

fn ts(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}

/// The timeline as Markdown: a header with the facts, then every entry in order.
pub fn markdown(v: &IncidentView) -> String {
    let i = &v.incident;
    let mut out = format!("# Incident {}: {}\n\n", i.id, i.title);
    if i.demo {
        out.push_str("> Demo environment: simulated data, not a real system.\n\n");
    }
    out.push_str(&format!(
        "- Environment: {}\n- Severity: SEV{}\n- Status: {}\n- Commander: {}\n- Communications: {}\n- Declared by: {} at {}\n",
        i.environment,
        i.severity,
        i.status.label(),
        if i.commander.is_empty() { "unassigned" } else { &i.commander },
        if i.communications.is_empty() { "unassigned" } else { &i.communications },
        i.declared_by,
        ts(i.started_ms)
    ));
    if let Some(a) = i.acknowledged_ms {
        out.push_str(&format!(
            "- Acknowledged: {} ({} min, target {} min{})\n",
            ts(a),
            (a - i.started_ms) / 60_000,
            i.target_minutes,
            if i.ack_breached { ", missed" } else { "" }
        ));
    }
    if let Some(r) = i.resolved_ms {
        out.push_str(&format!("- Resolved: {}\n", ts(r)));
    }
    if !i.ticket.is_empty() {
        out.push_str(&format!("- Ticket: {}\n", i.ticket));
    }
    if !i.alarms.is_empty() {
        out.push_str(&format!("- Alarms: {}\n", i.alarms.join(", ")));
    }
    if !i.services.is_empty() {
        out.push_str(&format!("- Services: {}\n", i.services.join(", ")));
    }
    out.push_str("\n## Timeline\n\n| Time (UTC) | Kind | Who | What |\n|---|---|---|---|\n");
    for e in &v.entries {
        out.push_str(&format!(
            "| {} | {}{} | {} | {} |\n",
            ts(e.at_ms),
            e.kind,
            if e.pinned { " (pinned)" } else { "" },
            e.actor,
            e.text.replace('|', "\\|").replace('\n', "<br>")
        ));
    }
    if !v.postmortem.is_empty() {
        out.push_str("\n## Post-mortem\n\n");
        out.push_str(&v.postmortem);
        out.push('\n');
    }
    out
}

/// The JSON export: the incident, its timeline and rollbacks, and the post-mortem.
pub fn json(v: &IncidentView) -> serde_json::Value {
    serde_json::json!({
        "incident": v.incident,
        "timeline": v.entries,
        "rollbacks": v.rollbacks,
        "postmortem": v.postmortem,
    })
}

/// A post-mortem draft from the timeline: summary, impact, timeline, root cause, action items.
pub fn postmortem_draft(i: &IncidentSummary, entries: &[TimelineEntry]) -> String {
    let mut out = format!("# Post-mortem: {}\n\n## Summary\n\n", i.title);
    out.push_str(&format!(
        "SEV{} incident in {} declared by {} at {}",
        i.severity,
        i.environment,
        i.declared_by,
        ts(i.started_ms)
    ));
    if let Some(r) = i.resolved_ms {
        out.push_str(&format!(
            ", resolved at {} after {} min",
            ts(r),
            (r - i.started_ms) / 60_000
        ));
    }
    out.push_str(".\n\n## Impact\n\nWho and what was affected, for how long:\n\n");
    if !i.services.is_empty() {
        out.push_str(&format!("- Services: {}\n", i.services.join(", ")));
    }
    if !i.alarms.is_empty() {
        out.push_str(&format!("- Alarms: {}\n", i.alarms.join(", ")));
    }
    out.push_str("\n## Timeline\n\n");
    let pinned: Vec<&TimelineEntry> = entries.iter().filter(|e| e.pinned).collect();
    let shown: Vec<&TimelineEntry> = if pinned.is_empty() {
        entries.iter().collect()
    } else {
        pinned
    };
    for e in shown {
        out.push_str(&format!(
            "- {} {}: {}\n",
            ts(e.at_ms),
            e.kind,
            e.text.replace('\n', " ")
        ));
    }
    out.push_str("\n## Root cause\n\nTo be written.\n\n## Action items\n\n- [ ] \n");
    out
}

/// May this caller confirm someone else's rollback: another responder or an approver.
fn may_confirm(caller: &Caller) -> bool {
    roles_allow(&caller.roles, Role::Responder) || roles_allow(&caller.roles, Role::Approver)
}

fn find_service<'a>(
    inv: &'a crate::model::Inventory,
    cluster: &str,
    service: &str,
) -> Option<&'a crate::model::ServiceInfo> {
    inv.resources
        .iter()
        .filter(|r| r.name == service)
        .filter_map(|r| r.service.as_deref())
        .find(|s| s.cluster == cluster)
}

/// The revision a rollback goes to: the task definition of an older deployment still listed,
/// else the previous revision number of the current family.
pub fn previous_revision(current: &str, deployments: &[crate::model::DeploymentInfo]) -> Option<String> {
    let cur = short(current);
    if let Some(d) = deployments
        .iter()
        .filter(|d| d.status != "PRIMARY" && d.task_definition != cur)
        .max_by_key(|d| d.created_ms.unwrap_or(0))
    {
        return Some(d.task_definition.clone());
    }
    let (family, rev) = cur.rsplit_once(':')?;
    let rev: u32 = rev.parse().ok()?;
    (rev > 1).then(|| format!("{family}:{}", rev - 1))
}

pub async fn rollback_target(
    state: &AppState,
    caller: &Caller,
    env: &str,
    cluster: &str,
    service: &str,
) -> Result<RollbackTarget, AppError> {
    caller.require(Role::Viewer)?;
    let meta = state
        .environment(env)
        .ok_or_else(|| AppError::NotFound(format!("environment {env}")))?
        .clone();
    let cloud = state.cloud(&meta);
    let now_svc = cloud.service_now(env, cluster, service).await;
    let (current, previous, mut off) = match now_svc {
        Ok(s) => {
            let prev = previous_revision(&s.task_definition, &s.deployments);
            (short(&s.task_definition), prev, None)
        }
        Err(e) => {
            // Fall back to the cached inventory for the page; rollback is off without a live read.
            let inv = cloud.inventory(env, now()).await.ok();
            let info = inv.as_ref().and_then(|i| find_service(i, cluster, service));
            (
                info.map(|s| s.task_definition.clone()).unwrap_or_default(),
                info.and_then(|s| previous_revision(&s.task_definition, &s.deployments)),
                Some(format!("the service cannot be read now: {e}")),
            )
        }
    };
    if let Some(why) = cloud.rollback_off(env) {
        off = Some(why);
    } else if previous.is_none() && off.is_none() {
        off = Some("there is no earlier revision to roll back to".into());
    }
    let rollbacks = state
        .store
        .rollback_list(env, service, None)
        .await
        .map_err(db)?
        .iter()
        .filter(|r| r.cluster == cluster)
        .map(rollback_view)
        .collect();
    Ok(RollbackTarget {
        environment: env.into(),
        cluster: cluster.into(),
        service: service.into(),
        current,
        previous,
        disabled_reason: off,
        rollbacks,
    })
}

pub struct RollbackRequest {
    pub environment: String,
    pub cluster: String,
    pub service: String,
    pub to: String,
    pub incident_id: i64,
    pub reason: String,
}

fn rollback_audit(caller: &Caller, action: &str, id: i64, detail: serde_json::Value) -> NewAuditEntry {
    NewAuditEntry::new(&caller.subject, action, &format!("rollback:{id}"), "ok", detail)
        .with_request_id(&super::auth::request_id())
}

/// Step one of two: a responder asks; someone else confirms (`confirm_rollback`).
pub async fn request_rollback(state: &AppState, caller: &Caller, q: RollbackRequest) -> Result<i64, AppError> {
    caller.require(Role::Responder)?;
    let meta = state
        .environment(q.environment.trim())
        .ok_or_else(|| AppError::Invalid(format!("environment: no environment \"{}\"", q.environment.trim())))?
        .clone();
    let cluster = text("cluster", &q.cluster, 255, false)?;
    let service = text("service", &q.service, 255, false)?;
    let reason = text("reason", &q.reason, 500, false)?;
    let to = text("to", &q.to, 255, false)?;
    let cloud = state.cloud(&meta);
    if let Some(why) = cloud.rollback_off(&meta.name) {
        return Err(AppError::Invalid(format!("rollback is off: {why}")));
    }
    let incident_id = if q.incident_id > 0 {
        let i = load(state, q.incident_id).await?;
        if i.environment != meta.name {
            return Err(AppError::Invalid(format!(
                "incident: incident {} is in {}, not {}",
                i.id, i.environment, meta.name
            )));
        }
        Some(i.id)
    } else {
        None
    };
    let svc = cloud
        .service_now(&meta.name, &cluster, &service)
        .await
        .map_err(|e| AppError::Unavailable(e.to_string()))?;
    let to_arn = cloud
        .task_definition_arn(&meta.name, &to)
        .await
        .map_err(|e| AppError::Invalid(format!("to: {e}")))?;
    if to_arn == svc.task_definition {
        return Err(AppError::Invalid(format!(
            "to: the service already runs {}",
            short(&to_arn)
        )));
    }
    let pending = state
        .store
        .rollback_list(&meta.name, &service, None)
        .await
        .map_err(db)?;
    if pending
        .iter()
        .any(|r| r.cluster == cluster && (r.status == "pending" || r.status == "rolling"))
    {
        return Err(AppError::Conflict(format!(
            "a rollback of {cluster}/{service} is already pending or in progress"
        )));
    }
    let t = now();
    let rec = RollbackRecord {
        id: 0,
        environment: meta.name.clone(),
        cluster: cluster.clone(),
        service: service.clone(),
        from_task_definition: svc.task_definition.clone(),
        to_task_definition: to_arn.clone(),
        incident_id,
        reason: reason.clone(),
        requested_by: caller.subject.clone(),
        requested_ms: t,
        confirmed_by: None,
        confirmed_ms: None,
        status: "pending".into(),
        progress: "waiting for a second person to confirm".into(),
        finished_ms: None,
    };
    let who = caller.clone();
    let detail = serde_json::json!({"environment": rec.environment, "cluster": rec.cluster, "service": rec.service,
        "from": rec.from_task_definition, "to": rec.to_task_definition, "incident": incident_id,
        "reason": rec.reason});
    let id = state
        .store
        .rollback_create(
            state.audit_key(),
            &rec,
            Box::new(move |id| Effects {
                entries: incident_id
                    .map(|i| {
                        entry(
                            i,
                            t,
                            "rollback",
                            &who.subject,
                            format!(
                                "Rollback #{id} of {cluster}/{service} to {} requested: {reason} (needs a second person)",
                                short(&to_arn)
                            ),
                        )
                    })
                    .into_iter()
                    .collect(),
                outbox: vec![],
                audit: vec![rollback_audit(&who, "rollback.request", id, detail)],
            }),
        )
        .await
        .map_err(db)?;
    // An active break-glass grant for the environment held by the requester stands in for the
    // second person: confirmed at once, in the grant's name.
    if let Some(grant) = super::access::active_grant(state, &caller.subject, &meta.name).await? {
        let as_grant = Caller {
            subject: format!("grant:access-{grant}"),
            ..caller.clone()
        };
        confirm_inner(state, &as_grant, id).await?;
    }
    Ok(id)
}

/// Step two: another responder or an approver confirms, then the console calls UpdateService as
/// the operator role. The requester never confirms their own.
pub async fn confirm_rollback(state: &AppState, caller: &Caller, id: i64) -> Result<RollbackView, AppError> {
    if !may_confirm(caller) {
        return Err(AppError::Forbidden(
            "confirming a rollback needs the responder or approver role".into(),
        ));
    }
    let r = state
        .store
        .rollback_get(id)
        .await
        .map_err(db)?
        .ok_or_else(|| AppError::NotFound(format!("rollback {id}")))?;
    if r.requested_by == caller.subject {
        return Err(AppError::Forbidden(
            "two-person rule: the person who asked for a rollback cannot confirm it".into(),
        ));
    }
    confirm_inner(state, caller, id).await
}

async fn confirm_inner(state: &AppState, caller: &Caller, id: i64) -> Result<RollbackView, AppError> {
    let r = state
        .store
        .rollback_get(id)
        .await
        .map_err(db)?
        .ok_or_else(|| AppError::NotFound(format!("rollback {id}")))?;
    if r.status != "pending" {
        return Err(AppError::Conflict(format!(
            "rollback {id} is {}, not pending",
            r.status
        )));
    }
    let meta = state
        .environment(&r.environment)
        .ok_or_else(|| AppError::NotFound(format!("environment {}", r.environment)))?
        .clone();
    let t = now();
    let line = format!(
        "Rollback #{id} of {}/{} to {} confirmed by {} (asked by {}); UpdateService sent",
        r.cluster,
        r.service,
        short(&r.to_task_definition),
        caller.subject,
        r.requested_by
    );
    let effects = Effects {
        entries: r
            .incident_id
            .map(|i| entry(i, t, "rollback", &caller.subject, line))
            .into_iter()
            .collect(),
        outbox: vec![],
        audit: vec![rollback_audit(
            caller,
            "rollback.confirm",
            id,
            serde_json::json!({"requested_by": r.requested_by, "to": r.to_task_definition}),
        )],
    };
    // Recorded (and audited) before AWS is asked; a second confirm loses the race here.
    let ok = state
        .store
        .rollback_confirm(state.audit_key(), id, &caller.subject, t, effects)
        .await
        .map_err(db)?;
    if !ok {
        return Err(AppError::Conflict(format!(
            "rollback {id} was confirmed or ended meanwhile"
        )));
    }
    if let Err(e) = state
        .cloud(&meta)
        .rollback(&r.environment, &r.cluster, &r.service, &r.to_task_definition)
        .await
    {
        let msg = format!("UpdateService failed: {e}");
        let effects = Effects {
            entries: r
                .incident_id
                .map(|i| {
                    entry(
                        i,
                        now(),
                        "rollback",
                        "ops-console",
                        format!("Rollback #{id} failed: {e}"),
                    )
                })
                .into_iter()
                .collect(),
            outbox: vec![],
            audit: vec![
                NewAuditEntry::new(
                    "ops-console",
                    "rollback.failed",
                    &format!("rollback:{id}"),
                    "failed",
                    serde_json::json!({"error": e.to_string()}),
                )
                .with_request_id(&super::auth::request_id()),
            ],
        };
        let _ = state
            .store
            .rollback_finish(state.audit_key(), id, "failed", &msg, now(), effects)
            .await;
        return Err(AppError::Unavailable(msg));
    }
    let r = state
        .store
        .rollback_get(id)
        .await
        .map_err(db)?
        .ok_or_else(|| AppError::NotFound(format!("rollback {id}")))?;
    Ok(rollback_view(&r))
}

/// One look at a rolling rollback (the rollback job): stable → done; past the timeout → timed out
/// with what was seen; else the progress is updated.
pub async fn watch_rollback(state: &AppState, r: &RollbackRecord) {
    let Some(meta) = state.environment(&r.environment).cloned() else {
        return;
    };
    let t = now();
    let timeout_ms = i64::from(state.config.jobs.rollback_timeout_minutes) * 60_000;
    let seen = state
        .cloud(&meta)
        .service_now(&r.environment, &r.cluster, &r.service)
        .await;
    let (done, status, progress) = match &seen {
        Ok(s) if s.stable_on(&r.to_task_definition) => (
            true,
            "stable",
            format!(
                "stable on {}: {} of {} tasks running",
                short(&r.to_task_definition),
                s.running,
                s.desired
            ),
        ),
        Ok(s) => {
            let seen = format!(
                "{} deployment(s) [{}]; service on {}; {} of {} tasks running",
                s.deployments.len(),
                s.deployments
                    .iter()
                    .map(|d| format!(
                        "{} {} {}/{} {}",
                        d.status,
                        d.task_definition,
                        d.running,
                        d.desired,
                        d.rollout_state.as_deref().unwrap_or("")
                    ))
                    .collect::<Vec<_>>()
                    .join(", "),
                short(&s.task_definition),
                s.running,
                s.desired
            );
            let timed_out = t - r.confirmed_ms.unwrap_or(r.requested_ms) > timeout_ms;
            (timed_out, "timed_out", seen)
        }
        Err(e) => {
            let timed_out = t - r.confirmed_ms.unwrap_or(r.requested_ms) > timeout_ms;
            (timed_out, "timed_out", format!("the service could not be read: {e}"))
        }
    };
    if !done {
        let _ = state.store.rollback_progress(r.id, &progress).await;
        return;
    }
    let line = match status {
        "stable" => format!("Rollback #{} of {}/{}: {progress}", r.id, r.cluster, r.service),
        _ => format!(
            "Rollback #{} of {}/{} not stable after {} min; last seen: {progress}",
            r.id, r.cluster, r.service, state.config.jobs.rollback_timeout_minutes
        ),
    };
    let effects = Effects {
        entries: r
            .incident_id
            .map(|i| entry(i, t, "rollback", "ops-console", line))
            .into_iter()
            .collect(),
        outbox: vec![],
        audit: vec![NewAuditEntry::new(
            "ops-console",
            &format!("rollback.{status}"),
            &format!("rollback:{}", r.id),
            if status == "stable" { "ok" } else { "failed" },
            serde_json::json!({"progress": progress}),
        )],
    };
    if let Err(e) = state
        .store
        .rollback_finish(state.audit_key(), r.id, status, &progress, t, effects)
        .await
    {
        tracing::warn!(error = %e, id = r.id, "rollback: could not record the outcome");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::DeploymentInfo;

    fn dep(status: &str, td: &str, created: i64) -> DeploymentInfo {
        DeploymentInfo {
            id: format!("ecs-svc/{created}"),
            status: status.into(),
            task_definition: td.into(),
            created_ms: Some(created),
            ..DeploymentInfo::default()
        }
    }

    #[test]
    fn the_previous_revision_is_the_older_deployment_else_one_less() {
        let arn = "arn:aws:ecs:us-east-1:1:task-definition/api:7";
        assert_eq!(
            previous_revision(arn, &[dep("PRIMARY", "api:7", 2)]),
            Some("api:6".into())
        );
        assert_eq!(
            previous_revision(arn, &[dep("PRIMARY", "api:7", 2), dep("ACTIVE", "api:4", 1)]),
            Some("api:4".into())
        );
        assert_eq!(previous_revision("arn:x:task-definition/api:1", &[]), None);
    }

    #[test]
    fn inputs_are_checked() {
        assert!(text("title", "  ", 10, false).is_err());
        assert!(text("title", "a\u{7}b", 10, false).is_err());
        assert!(text("note", "line\nline", 20, true).is_ok());
        assert!(names("services", "c1/api, c1/web", true).is_ok());
        assert!(names("services", "api", true).is_err());
        assert!(severity(0).is_err() && severity(5).is_err() && severity(2).is_ok());
    }
}
