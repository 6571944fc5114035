//! What happened and what changed (issue 16): the logs of a resource and Logs Insights queries
//! over them (`logs`), the recent changes of an environment (`changes`), and what an elevated
//! session did (`sessions`). Each read checks the caller may view the environment, and reads
//! only what the environment's inventory claims.

pub mod changes;
pub mod input;
pub mod logs;
pub mod sessions;

use crate::error::AppError;
use crate::model::{EnvSummary, Inventory, LogSource, Resource, ResourceKind, Role, TaskInfo};
use crate::ssr::auth::Caller;
use crate::ssr::state::{AppState, EnvMeta};

/// The environment `name` the caller may view, with its summary and inventory read now.
pub(crate) async fn environment(
    state: &AppState,
    caller: &Caller,
    name: &str,
) -> Result<(EnvMeta, EnvSummary, Inventory), AppError> {
    caller.require(Role::Viewer)?;
    if name.is_empty() || name.len() > 128 {
        return Err(AppError::Invalid("name: must be 1 to 128 characters".into()));
    }
    let meta = state
        .environment(name)
        .cloned()
        .ok_or_else(|| AppError::NotFound(format!("no environment named \"{name}\"")))?;
    let detail = state.detail(&meta).await;
    let inv = detail.inventory.ok_or_else(|| {
        AppError::Unavailable(
            detail
                .summary
                .error
                .clone()
                .unwrap_or_else(|| "the environment cannot be read now".into()),
        )
    })?;
    // What is this environment's cannot be told: its logs and changes are not guessed at (an
    // account-wide list would show other environments' resources as its own).
    if let Some(n) = inv.notes.iter().find(|n| n.part == "scope") {
        return Err(AppError::Unavailable(format!("logs and changes wait: {}", n.message)));
    }
    Ok((meta, detail.summary, inv))
}

/// The inventory row (and for a task, the task) a log source names; NotFound for anything the
/// environment does not claim, so no log group outside it is ever read.
pub fn resolve<'a>(inv: &'a Inventory, source: &LogSource) -> Result<(&'a Resource, Option<&'a TaskInfo>), AppError> {
    let not_found = || AppError::NotFound(format!("{} is not part of this environment", source.label()));
    if let LogSource::Task(id) = source {
        return inv
            .resources
            .iter()
            .filter(|r| r.kind == ResourceKind::EcsService)
            .find_map(|r| {
                let info = r.service.as_ref()?;
                info.tasks
                    .iter()
                    .chain(info.stopped.iter())
                    .find(|t| &t.id == id)
                    .map(|t| (r, Some(t)))
            })
            .ok_or_else(not_found);
    }
    let kind = source.resource_kind();
    inv.resources
        .iter()
        .find(|r| r.kind == kind && r.name == source.name())
        .map(|r| (r, None))
        .ok_or_else(not_found)
}

/// Every source of logs the environment has, in inventory order.
pub fn sources(inv: &Inventory) -> Vec<LogSource> {
    inv.log_sources()
}
