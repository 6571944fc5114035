//! Metrics, backups and the status check of an environment.

use crate::error::AppError;
use crate::model::{BackupsView, MetricsView, StatusReport};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
async fn environment(name: &str) -> Result<(crate::ssr::state::AppState, crate::ssr::state::EnvMeta), AppError> {
    let (state, caller) = crate::ssr::auth::current().await?;
    caller.require(crate::model::Role::Viewer)?;
    if name.is_empty() || name.len() > 128 {
        return Err(AppError::Invalid("name: must be 1 to 128 characters".into()));
    }
    let meta = state
        .environment(name)
        .cloned()
        .ok_or_else(|| AppError::NotFound(format!("no environment named \"{name}\"")))?;
    Ok((state, meta))
}

/// Charts of an environment's key metrics over `range` (1h, 6h, 24h, 7d) and its alarms (viewer).
#[server(prefix = "/api/v1", endpoint = "environments/metrics")]
pub async fn get_metrics(name: String, range: String) -> Result<MetricsView, AppError> {
    super::finish(
        async {
            let range = crate::model::TimeRange::parse(&range)
                .ok_or_else(|| AppError::Invalid(format!("range: \"{range}\" is not one of 1h, 6h, 24h, 7d")))?;
            let (state, meta) = environment(&name).await?;
            let detail = state.detail(&meta).await;
            let now = chrono::Utc::now().timestamp_millis();
            let mut notes = detail.inventory.as_ref().map(|i| i.notes.clone()).unwrap_or_default();
            let (charts, alarms) = match &detail.inventory {
                Some(inv) if detail.summary.error.is_none() => {
                    match state.cloud(&meta).metrics(&meta.name, inv, range, now).await {
                        Ok((charts, mut n)) => {
                            notes.append(&mut n);
                            (charts, inv.alarms.clone())
                        }
                        Err(e) => return Err(AppError::Unavailable(e.to_string())),
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
        .await,
    )
    .await
}

/// Vaults, plans, recent jobs and the last recovery point per protected resource against the
/// RPO (viewer).
#[server(prefix = "/api/v1", endpoint = "environments/backups")]
pub async fn get_backups(name: String) -> Result<BackupsView, AppError> {
    super::finish(
        async {
            let (state, meta) = environment(&name).await?;
            let detail = state.detail(&meta).await;
            let rpo = state.rpo_hours(&meta);
            let now = chrono::Utc::now().timestamp_millis();
            let b = state
                .cloud(&meta)
                .backups(&meta.name, rpo, now)
                .await
                .map_err(|e| AppError::Unavailable(e.to_string()))?;
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
        .await,
    )
    .await
}

/// The status check (the same as `ops-console status --json`) (viewer).
#[server(prefix = "/api/v1", endpoint = "environments/status")]
pub async fn get_status(name: String) -> Result<StatusReport, AppError> {
    super::finish(
        async {
            let (state, meta) = environment(&name).await?;
            Ok(crate::ssr::status::run(&state, &meta).await)
        }
        .await,
    )
    .await
}
