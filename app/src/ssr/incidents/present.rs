//! Incident records as the API shows them.

use crate::model::{IncidentSummary, TimelineEntry, response_target_minutes};
use crate::ssr::state::AppState;
use crate::ssr::store::{IncidentRecord, TimelineRecord};

pub fn summary(state: &AppState, r: &IncidentRecord, now_ms: i64) -> IncidentSummary {
    let sev = r.severity;
    let target = response_target_minutes(sev.number());
    let ack_after = r.acknowledged_ms.unwrap_or(now_ms) - r.started_ms;
    let status = r.status;
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

pub fn entry_view(t: &TimelineRecord) -> TimelineEntry {
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
