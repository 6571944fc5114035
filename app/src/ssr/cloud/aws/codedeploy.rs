//! CodeDeploy for ECS services deployed blue/green: the deployment group that deploys a service and
//! its last deployment. Read only when the environment has a CodeDeploy-controlled service: every
//! application's deployment groups are listed and each described (bounded), and matched to the
//! service by its cluster and name.

use super::err_text;
use aws_sdk_codedeploy::Client;
use futures::{StreamExt, TryStreamExt, stream};

/// (cluster, service, "application/group; last deployment d-… Succeeded at …").
pub async fn read(client: &Client, services: &[(String, String)]) -> Result<Vec<(String, String, String)>, String> {
    let apps: Vec<String> = client
        .list_applications()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| err_text("CodeDeploy ListApplications", &e))?;
    let per_app: Vec<Vec<(String, String)>> = stream::iter(apps)
        .map(|app| {
            let client = client.clone();
            async move {
                let groups: Vec<String> = client
                    .list_deployment_groups()
                    .application_name(&app)
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(|e| err_text("CodeDeploy ListDeploymentGroups", &e))?;
                Ok::<_, String>(groups.into_iter().map(|g| (app.clone(), g)).collect())
            }
        })
        .buffered(super::CONCURRENCY)
        .try_collect()
        .await?;
    let pairs: Vec<(String, String)> = per_app.into_iter().flatten().collect();
    let described: Vec<_> = stream::iter(pairs)
        .map(|(app, group)| {
            let client = client.clone();
            async move {
                client
                    .get_deployment_group()
                    .application_name(&app)
                    .deployment_group_name(&group)
                    .send()
                    .await
                    .map_err(|e| err_text("CodeDeploy GetDeploymentGroup", &e))
            }
        })
        .buffered(super::CONCURRENCY)
        .try_collect()
        .await?;
    let mut out = Vec::new();
    for d in described {
        let Some(info) = d.deployment_group_info() else {
            continue;
        };
        for e in info.ecs_services() {
            let (Some(cluster), Some(service)) = (e.cluster_name(), e.service_name()) else {
                continue;
            };
            if !services.iter().any(|(c, s)| c == cluster && s == service) {
                continue;
            }
            let last = info
                .last_attempted_deployment()
                .filter(|l| l.deployment_id().is_some())
                .map(|l| {
                    format!(
                        "; last deployment {} {}{}",
                        l.deployment_id().unwrap_or("?"),
                        l.status().map(|s| s.as_str()).unwrap_or("?"),
                        l.create_time()
                            .map(|t| format!(" at {}", super::when(t)))
                            .unwrap_or_default()
                    )
                })
                .unwrap_or_else(|| "; no deployment yet".into());
            out.push((
                cluster.to_string(),
                service.to_string(),
                format!(
                    "{}/{}{last}",
                    info.application_name().unwrap_or_default(),
                    info.deployment_group_name().unwrap_or_default()
                ),
            ));
        }
    }
    Ok(out)
}
