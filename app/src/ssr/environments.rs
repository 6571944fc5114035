//! Environment reads: every environment at a glance, one environment, one ECS service, its
//! metrics, backups against the RPO, and the status check. Each checks the caller may view.

use crate::error::AppError;
use crate::model::{BackupsView, EnvDetail, EnvSummary, MetricsView, Role, ServiceView, StatusReport, TimeRange};
use crate::ssr::auth::Caller;
use crate::ssr::kernel::clock::now;
use crate::ssr::state::{AppState, EnvMeta};

/// The environment `name` (1 to 128 characters) the caller may view.
fn environment(state: &AppState, caller: &Caller, name: &str) -> Result<EnvMeta, AppError> {
    caller.require(Role::Viewer)?;
    if name.is_empty() || name.len() > 128 {
        return Err(AppError::Invalid("name: must be 1 to 128 characters".into()));
    }
    state
        .environment(name)
        .cloned()
        .ok_or_else(|| AppError::NotFound(format!("no environment named \"{name}\"")))
}

/// Every environment with its health at a glance; concurrently, so one slow environment does
/// not delay the others.
pub async fn list(state: &AppState, caller: &Caller) -> Result<Vec<EnvSummary>, AppError> {
    caller.require(Role::Viewer)?;
    let reads = state.environments().iter().map(|m| state.detail(m));
    let details = futures::future::join_all(reads).await;
    Ok(details.into_iter().map(|d| d.summary).collect())
}

/// One environment: summary, resources, alarms and current figures.
pub async fn get(state: &AppState, caller: &Caller, name: &str) -> Result<EnvDetail, AppError> {
    let meta = environment(state, caller, name)?;
    Ok(state.detail(&meta).await)
}

/// One ECS service: task definition, tasks and zones, deployments, events, and what sends it
/// traffic (target groups that feed it, load balancers in front of those).
pub async fn service(state: &AppState, caller: &Caller, name: &str, service: &str) -> Result<ServiceView, AppError> {
    caller.require(Role::Viewer)?;
    for (field, v) in [("name", name), ("service", service)] {
        if v.is_empty() || v.len() > 255 {
            return Err(AppError::Invalid(format!("{field}: must be 1 to 255 characters")));
        }
    }
    let meta = state
        .environment(name)
        .ok_or_else(|| AppError::NotFound(format!("no environment named \"{name}\"")))?;
    let detail = state.detail(meta).await;
    let inv = detail.inventory.ok_or_else(|| {
        AppError::Unavailable(
            detail
                .summary
                .error
                .clone()
                .unwrap_or_else(|| "environment unreadable".into()),
        )
    })?;
    let svc = inv
        .resources
        .iter()
        .find(|r| r.kind == crate::model::ResourceKind::EcsService && r.name == service)
        .cloned()
        .ok_or_else(|| AppError::NotFound(format!("no ECS service \"{service}\" in {name}")))?;
    let tgs: Vec<_> = inv
        .resources
        .iter()
        .filter(|r| r.links.contains(&svc.id))
        .cloned()
        .collect();
    let lbs: Vec<_> = inv
        .resources
        .iter()
        .filter(|r| tgs.iter().any(|t| r.links.contains(&t.id)))
        .cloned()
        .collect();
    Ok(ServiceView {
        summary: detail.summary,
        service: svc,
        upstream: lbs.into_iter().chain(tgs).collect(),
        fetched_ms: inv.fetched_ms,
        notes: inv.notes,
    })
}

/// Charts of the key metrics over `range` (1h, 6h, 24h, 7d) and the alarms.
pub async fn metrics(state: &AppState, caller: &Caller, name: &str, range: &str) -> Result<MetricsView, AppError> {
    let range = TimeRange::parse(range)
        .ok_or_else(|| AppError::Invalid(format!("range: \"{range}\" is not one of 1h, 6h, 24h, 7d")))?;
    let meta = environment(state, caller, name)?;
    let detail = state.detail(&meta).await;
    let now = now();
    let mut notes = detail.inventory.as_ref().map(|i| i.notes.clone()).unwrap_or_default();
    let (charts, alarms) = match &detail.inventory {
        Some(inv) if detail.summary.error.is_none() => {
            match state.cloud(&meta).metrics(&meta.name, inv, range, now).await {
                Ok((charts, mut n)) => {
                    notes.append(&mut n);
                    (charts, inv.alarms.clone())
                }
                Err(e) => return Err(e.into()),
            }
        }
        _ => (vec![], vec![]),
    };
    Ok(MetricsView {
        summary: detail.summary,
        range,
        charts,
        alarms,
        fetched_ms: now,
        notes,
    })
}

/// Vaults, plans, recent jobs and the last recovery point per protected resource against the RPO.
pub async fn backups(state: &AppState, caller: &Caller, name: &str) -> Result<BackupsView, AppError> {
    let meta = environment(state, caller, name)?;
    let detail = state.detail(&meta).await;
    let rpo = state.rpo_hours(&meta);
    let b = state.cloud(&meta).backups(&meta.name, rpo, now()).await?;
    Ok(BackupsView {
        summary: detail.summary,
        rpo_hours: rpo,
        vaults: b.vaults,
        plans: b.plans,
        jobs: b.jobs,
        recovery_points: b.recovery_points,
        notes: b.notes,
    })
}

/// The status check (the same as `ops-console status --json`).
pub async fn status(state: &AppState, caller: &Caller, name: &str) -> Result<StatusReport, AppError> {
    let meta = environment(state, caller, name)?;
    // One check serves every viewer for a few seconds (`checked_at` says when it ran): the page
    // asks for it on every render and refresh.
    let report = state
        .status_memo
        .get(&meta.name, || crate::ssr::status::run(state, &meta))
        .await;
    Ok(report.as_ref().clone())
}
