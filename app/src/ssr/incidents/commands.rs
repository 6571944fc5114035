//! What responders do to an incident: declare, move its status, change severity and roles, add
//! notes, pin entries, save the post-mortem. Each writes its row, timeline entries, outbox
//! messages and audit entries in one transaction.

use super::notify::slack;
use super::poll::alarm_entry;
use crate::error::AppError;
use crate::model::{IncidentStatus, Role, Severity};
use crate::ssr::audit::NewAuditEntry;
use crate::ssr::auth::Caller;
use crate::ssr::kernel::clock::now;
use crate::ssr::kernel::effects::entry;
use crate::ssr::kernel::input::{
    AlarmNames, NoteText, Person, Postmortem, Reason, ServiceRefs, StatusNote, Summary, Ticket, Title,
};
use crate::ssr::state::AppState;
use crate::ssr::store::{Effects, IncidentChange, IncidentRecord};

fn audit(caller: &Caller, action: &str, id: i64, detail: serde_json::Value) -> NewAuditEntry {
    crate::ssr::kernel::effects::audit(&caller.subject, action, &format!("incident:{id}"), detail)
}

/// A new incident, its input checked.
pub struct Declare {
    pub environment: String,
    pub title: Title,
    pub severity: Severity,
    pub alarms: AlarmNames,
    pub services: ServiceRefs,
    pub ticket: Option<Ticket>,
    pub summary: Option<Summary>,
}

pub async fn declare(state: &AppState, caller: &Caller, d: Declare) -> Result<i64, AppError> {
    caller.require(Role::Responder)?;
    let meta = state
        .environment(d.environment.trim())
        .ok_or_else(|| AppError::Invalid(format!("environment: no environment \"{}\"", d.environment.trim())))?
        .clone();
    let title = d.title.into_string();
    let sev = d.severity;
    let alarms = d.alarms.into_vec();
    let services = d.services.into_vec();
    let ticket = d.ticket.map(Ticket::into_string).unwrap_or_default();
    let first_note = d.summary.map(Summary::into_string).unwrap_or_default();
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
        severity: sev,
        status: IncidentStatus::Triggered,
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
            &rec,
            Box::new(move |id| {
                let mut entries = vec![entry(
                    id,
                    t,
                    "declared",
                    &who.subject,
                    format!("Declared {}: {title} (commander {})", sev.label(), who.subject),
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
                        serde_json::json!({"environment": r.environment, "severity": sev.number(), "alarms": r.alarms,
                            "services": r.services, "ticket": r.ticket}),
                    )],
                }
            }),
        )
        .await?;
    Ok(id)
}

pub(crate) async fn load(state: &AppState, id: i64) -> Result<IncidentRecord, AppError> {
    state
        .store
        .incident_get(id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("incident {id}")))
}

fn changed() -> AppError {
    AppError::Conflict("the incident changed meanwhile; reload the page and decide again".into())
}

pub async fn transition(
    state: &AppState,
    caller: &Caller,
    id: i64,
    to: IncidentStatus,
    note: Option<StatusNote>,
) -> Result<IncidentStatus, AppError> {
    caller.require(Role::Responder)?;
    let note = note.map(StatusNote::into_string).unwrap_or_default();
    let r = load(state, id).await?;
    let from = r.status;
    super::policy::check_move(from, to, r.severity, &r.postmortem)?;
    let t = now();
    let mut patch = vec![IncidentChange::Status(to)];
    match to {
        IncidentStatus::Acknowledged if r.acknowledged_ms.is_none() => {
            patch.push(IncidentChange::AcknowledgedMs(Some(t)))
        }
        IncidentStatus::Resolved => patch.push(IncidentChange::ResolvedMs(Some(t))),
        IncidentStatus::Closed => patch.push(IncidentChange::ClosedMs(Some(t))),
        IncidentStatus::Investigating if from == IncidentStatus::Resolved => {
            patch.push(IncidentChange::ResolvedMs(None))
        }
        _ => {}
    }
    // Acknowledging work that was never acknowledged also counts for the target.
    if r.acknowledged_ms.is_none() && to != IncidentStatus::Acknowledged {
        patch.push(IncidentChange::AcknowledgedMs(Some(t)));
    }
    let mut text_line = format!("Status {} → {}", from.label(), to.label());
    if !note.is_empty() {
        text_line.push_str(": ");
        text_line.push_str(&note);
    }
    let mut after = r.clone();
    after.status = to;
    let mut outbox = vec![];
    if to == IncidentStatus::Resolved {
        outbox.push(slack(
            state,
            &after,
            to.label(),
            &note,
            format!("incident-{id}-{}-{t}", to.label()),
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
    let done = state.store.incident_update(id, r.status, patch, t, effects).await?;
    if done { Ok(to) } else { Err(changed()) }
}

pub async fn set_severity(
    state: &AppState,
    caller: &Caller,
    id: i64,
    sev: Severity,
    reason: Reason,
) -> Result<(), AppError> {
    caller.require(Role::Responder)?;
    let reason = reason.into_string();
    let r = load(state, id).await?;
    if r.status == IncidentStatus::Closed {
        return Err(AppError::Invalid("severity: the incident is closed".into()));
    }
    if r.severity == sev {
        return Err(AppError::Invalid(format!("severity: already {}", sev.label())));
    }
    let t = now();
    let mut after = r.clone();
    after.severity = sev;
    let line = format!("Severity {} → {}: {reason}", r.severity.label(), sev.label());
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
            serde_json::json!({"from": r.severity.number(), "to": sev.number(), "reason": reason}),
        )],
    };
    let done = state
        .store
        .incident_update(id, r.status, vec![IncidentChange::Severity(sev)], t, effects)
        .await?;
    if done { Ok(()) } else { Err(changed()) }
}

pub async fn set_roles(
    state: &AppState,
    caller: &Caller,
    id: i64,
    commander: Person,
    communications: Person,
) -> Result<(), AppError> {
    caller.require(Role::Responder)?;
    let (commander, communications) = (commander.into_string(), communications.into_string());
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
            id,
            r.status,
            vec![
                IncidentChange::Commander(commander),
                IncidentChange::Communications(communications),
            ],
            t,
            effects,
        )
        .await?;
    if done { Ok(()) } else { Err(changed()) }
}

/// A note or status update ("update"); on a closed incident too (corrections are new entries).
pub async fn add_note(
    state: &AppState,
    caller: &Caller,
    id: i64,
    kind: NoteKind,
    body: NoteText,
) -> Result<(), AppError> {
    caller.require(Role::Responder)?;
    let kind = kind.label();
    let body = body.into_string();
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
    state.store.effects_apply(effects).await?;
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
    let done = state.store.timeline_pin(id, entry_id, pinned, effects).await?;
    if done {
        Ok(())
    } else {
        Err(AppError::NotFound(format!("entry {entry_id} of incident {id}")))
    }
}

pub async fn save_postmortem(state: &AppState, caller: &Caller, id: i64, body: Postmortem) -> Result<(), AppError> {
    caller.require(Role::Responder)?;
    let body = body.into_string();
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
        .incident_update(id, r.status, vec![IncidentChange::Postmortem(body)], t, effects)
        .await?;
    if done { Ok(()) } else { Err(changed()) }
}

/// What kind of entry a person adds to a timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteKind {
    Note,
    Update,
    Correction,
}

impl NoteKind {
    pub fn label(self) -> &'static str {
        match self {
            NoteKind::Note => "note",
            NoteKind::Update => "update",
            NoteKind::Correction => "correction",
        }
    }

    /// Empty means a note.
    pub fn parse(s: &str) -> Result<NoteKind, AppError> {
        match s.trim() {
            "" => Ok(NoteKind::Note),
            w => [NoteKind::Note, NoteKind::Update, NoteKind::Correction]
                .into_iter()
                .find(|k| k.label() == w)
                .ok_or_else(|| AppError::Invalid(format!("kind: \"{w}\" is not note, update or correction"))),
        }
    }
}
