//! Reading incidents: one with its timeline, and the filtered list.

use super::commands::load;
use super::export::postmortem_draft;
use super::present::{entry_view, summary};
use crate::error::AppError;
use crate::model::{IncidentStatus, IncidentSummary, IncidentView, Role, TimelineEntry};
use crate::ssr::auth::Caller;
use crate::ssr::kernel::clock::now;
use crate::ssr::rollbacks::rollback_view;
use crate::ssr::state::AppState;
use crate::ssr::store::IncidentRecord;

pub async fn view(state: &AppState, caller: &Caller, id: i64) -> Result<IncidentView, AppError> {
    caller.require(Role::Viewer)?;
    let r = load(state, id).await?;
    let t = now();
    let entries: Vec<TimelineEntry> = state.store.timeline(id).await?.iter().map(entry_view).collect();
    let rollbacks = state
        .store
        .rollback_list("", "", Some(id))
        .await?
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
        .await?
        .iter()
        .map(|r| summary(state, r, t))
        .filter(|s| environment.trim().is_empty() || s.environment == environment.trim())
        .filter(|s| sev == 0 || s.severity.number() == sev)
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
        emergency_reviews: crate::ssr::access::unreviewed(state).await?,
        now_ms: t,
    })
}
