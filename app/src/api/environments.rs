use crate::error::AppError;
use crate::model::{EnvDetail, EnvSummary, ServiceView};
use leptos::prelude::*;

/// Every environment with its health at a glance (viewer).
#[server(prefix = "/api/v1", endpoint = "environments/list")]
pub async fn list_environments() -> Result<Vec<EnvSummary>, AppError> {
    super::finish(
        async {
            let (state, caller) = crate::ssr::auth::current().await?;
            caller.require(crate::model::Role::Viewer)?;
            let reads = state.environments().iter().map(|m| state.detail(m));
            // Concurrently: one slow environment does not delay the others.
            let details = futures::future::join_all(reads).await;
            Ok(details.into_iter().map(|d| d.summary).collect())
        }
        .await,
    )
    .await
}

/// One environment: summary, resources, alarms and current figures (viewer).
#[server(prefix = "/api/v1", endpoint = "environments/get")]
pub async fn get_environment(name: String) -> Result<EnvDetail, AppError> {
    super::finish(
        async {
            let (state, caller) = crate::ssr::auth::current().await?;
            caller.require(crate::model::Role::Viewer)?;
            if name.is_empty() || name.len() > 128 {
                return Err(AppError::Invalid("name: must be 1 to 128 characters".into()));
            }
            let meta = state
                .environment(&name)
                .ok_or_else(|| AppError::NotFound(format!("no environment named \"{name}\"")))?;
            Ok(state.detail(meta).await)
        }
        .await,
    )
    .await
}

/// One ECS service of an environment: task definition, tasks and their zones, deployments, the
/// last service events, and what sends it traffic (viewer).
#[server(prefix = "/api/v1", endpoint = "environments/service")]
pub async fn get_service(name: String, service: String) -> Result<ServiceView, AppError> {
    super::finish(
        async {
            let (state, caller) = crate::ssr::auth::current().await?;
            caller.require(crate::model::Role::Viewer)?;
            for (field, v) in [("name", &name), ("service", &service)] {
                if v.is_empty() || v.len() > 255 {
                    return Err(AppError::Invalid(format!("{field}: must be 1 to 255 characters")));
                }
            }
            let meta = state
                .environment(&name)
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
            // Walk the links backwards: target groups that feed the service, load balancers in front.
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
        .await,
    )
    .await
}
