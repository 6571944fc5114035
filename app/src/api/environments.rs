use crate::error::AppError;
use crate::model::{EnvDetail, EnvSummary};
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
}
