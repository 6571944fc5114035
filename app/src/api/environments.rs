//! Environment reads: the list, one environment, a service, its metrics, backups and status check.

use crate::error::AppError;
use crate::model::{BackupsView, EnvDetail, EnvSummary, MetricsView, ServiceView, StatusReport};
use leptos::prelude::*;

/// Every environment with its health at a glance (viewer).
#[server(prefix = "/api/v1", endpoint = "environments/list")]
pub async fn list_environments() -> Result<Vec<EnvSummary>, AppError> {
    super::as_caller(move |s, c| async move { crate::ssr::environments::list(&s, &c).await }).await
}

/// One environment: summary, resources, alarms and current figures (viewer).
#[server(prefix = "/api/v1", endpoint = "environments/get")]
pub async fn get_environment(name: String) -> Result<EnvDetail, AppError> {
    super::as_caller(move |s, c| async move { crate::ssr::environments::get(&s, &c, &name).await }).await
}

/// One ECS service of an environment: task definition, tasks and their zones, deployments, the
/// last service events, and what sends it traffic (viewer).
#[server(prefix = "/api/v1", endpoint = "environments/service")]
pub async fn get_service(name: String, service: String) -> Result<ServiceView, AppError> {
    super::as_caller(move |s, c| async move { crate::ssr::environments::service(&s, &c, &name, &service).await }).await
}

/// Charts of an environment's key metrics over `range` (1h, 6h, 24h, 7d) and its alarms (viewer).
#[server(prefix = "/api/v1", endpoint = "environments/metrics")]
pub async fn get_metrics(name: String, range: String) -> Result<MetricsView, AppError> {
    super::as_caller(move |s, c| async move { crate::ssr::environments::metrics(&s, &c, &name, &range).await }).await
}

/// Vaults, plans, recent jobs and the last recovery point per protected resource against the
/// RPO (viewer).
#[server(prefix = "/api/v1", endpoint = "environments/backups")]
pub async fn get_backups(name: String) -> Result<BackupsView, AppError> {
    super::as_caller(move |s, c| async move { crate::ssr::environments::backups(&s, &c, &name).await }).await
}

/// The status check (the same as `ops-console status --json`) (viewer).
#[server(prefix = "/api/v1", endpoint = "environments/status")]
pub async fn get_status(name: String) -> Result<StatusReport, AppError> {
    super::as_caller(move |s, c| async move { crate::ssr::environments::status(&s, &c, &name).await }).await
}
