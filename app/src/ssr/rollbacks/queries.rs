//! What a service can roll back to, and its rollbacks.

use super::policy::{TaskDefRevision, controller_refusal};
use super::present::rollback_view;
use crate::error::AppError;
use crate::model::{IncidentChoice, Role, RollbackTarget, Tier};
use crate::ssr::auth::Caller;
use crate::ssr::cloud::short_taskdef as short;
use crate::ssr::kernel::clock::now;
use crate::ssr::state::AppState;

pub(super) fn find_service<'a>(
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

/// The revision a rollback goes to: the task definition of an older deployment still listed (of
/// the same family, an earlier revision), else the previous revision number of the current family.
pub fn previous_revision(current: &str, deployments: &[crate::model::DeploymentInfo]) -> Option<String> {
    let cur = TaskDefRevision::parse(current)?;
    if let Some(d) = deployments
        .iter()
        .filter(|d| d.status != "PRIMARY")
        .filter(|d| {
            TaskDefRevision::parse(&d.task_definition)
                .is_some_and(|t| t.family == cur.family && t.revision < cur.revision)
        })
        .max_by_key(|d| d.created_ms.unwrap_or(0))
    {
        return Some(short(&d.task_definition));
    }
    (cur.revision > 1).then(|| format!("{}:{}", cur.family, cur.revision - 1))
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
    let inv = cloud.inventory(env, now()).await.ok();
    // Without its tagged resources, whose the service is cannot be told.
    let unscoped = inv
        .as_ref()
        .and_then(|i| i.notes.iter().find(|n| n.part == "scope"))
        .map(|n| n.message.clone());
    let in_env = unscoped.is_none()
        && inv
            .as_ref()
            .is_some_and(|i| find_service(i, cluster, service).is_some());
    let now_svc = cloud.service_now(env, cluster, service).await;
    let (current, previous, mut off) = match now_svc {
        Ok(s) => {
            let prev = previous_revision(&s.task_definition, &s.deployments);
            let off = controller_refusal(cluster, service, s.controller);
            (short(&s.task_definition), prev, off)
        }
        Err(e) => {
            // Fall back to the cached inventory for the page; rollback is off without a live read.
            let info = inv.as_ref().and_then(|i| find_service(i, cluster, service));
            (
                info.map(|s| s.task_definition.clone()).unwrap_or_default(),
                info.and_then(|s| previous_revision(&s.task_definition, &s.deployments)),
                Some(format!("the service cannot be read now: {e}")),
            )
        }
    };
    let needs_incident = meta.tier == Tier::Prod;
    let open_incidents: Vec<IncidentChoice> = state
        .store
        .incidents_open()
        .await?
        .into_iter()
        .filter(|i| i.environment == env)
        .map(|i| IncidentChoice {
            id: i.id,
            title: i.title,
            severity: i.severity,
        })
        .rev()
        .collect();
    if let Some(why) = cloud.rollback_off(env) {
        off = Some(why);
    } else if off.is_none() {
        off = if let Some(why) = unscoped {
            Some(why)
        } else if !in_env {
            Some(format!(
                "{cluster}/{service} is not in the inventory of {env} (its selector)"
            ))
        } else if previous.is_none() {
            Some("there is no earlier revision to roll back to".into())
        } else if needs_incident && open_incidents.is_empty() {
            Some(format!(
                "{env} is a prod environment: a rollback needs an open incident of it; declare one first"
            ))
        } else {
            None
        };
    }
    let rollbacks = state
        .store
        .rollback_list(env, service, None)
        .await?
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
        needs_incident,
        open_incidents,
        rollbacks,
    })
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
}
