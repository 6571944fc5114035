//! ECS: clusters, services (with deployments and events), tasks and task definitions, batched to
//! the API limits (DescribeServices 10, DescribeTasks 100, DescribeClusters 100) with every
//! paginator followed and a bounded number of calls in flight.

use super::{CONCURRENCY, err_text, secs_to_ms};
use crate::model::{DeploymentInfo, Health, Resource, ResourceKind, ServiceEvent, ServiceInfo, TaskCounts, TaskInfo};
use aws_sdk_ecs::Client;
use aws_sdk_ecs::types::{Service, Task};
use futures::{StreamExt, TryStreamExt, stream};
use std::collections::HashMap;
use std::sync::Mutex;

pub const DESCRIBE_SERVICES_BATCH: usize = 10;
pub const DESCRIBE_TASKS_BATCH: usize = 100;
pub const DESCRIBE_CLUSTERS_BATCH: usize = 100;

/// Facts of a task definition revision (immutable, so cached for the life of the process).
#[derive(Debug, Clone, Default)]
pub struct TaskDefFacts {
    pub cpu: Option<String>,
    pub memory: Option<String>,
    pub images: Vec<String>,
}

#[derive(Default)]
pub struct TaskDefCache(Mutex<HashMap<String, TaskDefFacts>>);

impl TaskDefCache {
    fn get(&self, arn: &str) -> Option<TaskDefFacts> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).get(arn).cloned()
    }
    fn put(&self, arn: &str, facts: TaskDefFacts) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(arn.to_string(), facts);
    }
}

/// Reads every cluster, service and task of the account and region.
pub async fn read(client: &Client, taskdefs: &TaskDefCache) -> Result<Vec<Resource>, String> {
    let cluster_arns: Vec<String> = client
        .list_clusters()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| err_text("ECS ListClusters", &e))?;
    let mut clusters = Vec::new();
    for chunk in cluster_arns.chunks(DESCRIBE_CLUSTERS_BATCH) {
        let out = client
            .describe_clusters()
            .set_clusters(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| err_text("ECS DescribeClusters", &e))?;
        clusters.extend(out.clusters().iter().cloned());
    }
    // Per cluster: services and tasks, clusters in parallel up to CONCURRENCY.
    let per_cluster: Vec<(Vec<Service>, Vec<Task>)> = stream::iter(cluster_arns.clone())
        .map(|arn| {
            let client = client.clone();
            async move { read_cluster(&client, &arn).await }
        })
        .buffered(CONCURRENCY)
        .try_collect()
        .await?;

    // Task definitions not seen before, in parallel.
    let mut wanted: Vec<String> = per_cluster
        .iter()
        .flat_map(|(services, _)| services.iter())
        .filter_map(|s| s.task_definition().map(str::to_string))
        .filter(|arn| taskdefs.get(arn).is_none())
        .collect();
    wanted.sort();
    wanted.dedup();
    let fetched: Vec<(String, TaskDefFacts)> = stream::iter(wanted)
        .map(|arn| {
            let client = client.clone();
            async move {
                let out = client
                    .describe_task_definition()
                    .task_definition(&arn)
                    .send()
                    .await
                    .map_err(|e| err_text("ECS DescribeTaskDefinition", &e))?;
                let td = out.task_definition();
                let facts = TaskDefFacts {
                    cpu: td.and_then(|t| t.cpu()).map(str::to_string),
                    memory: td.and_then(|t| t.memory()).map(str::to_string),
                    images: td
                        .map(|t| {
                            t.container_definitions()
                                .iter()
                                .filter_map(|c| c.image().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default(),
                };
                Ok::<_, String>((arn, facts))
            }
        })
        .buffer_unordered(CONCURRENCY)
        .try_collect()
        .await?;
    for (arn, facts) in fetched {
        taskdefs.put(&arn, facts);
    }

    let mut out = Vec::new();
    for c in &clusters {
        let arn = c.cluster_arn().unwrap_or_default();
        out.push(Resource {
            kind: ResourceKind::EcsCluster,
            name: c.cluster_name().unwrap_or_default().to_string(),
            id: arn.to_string(),
            status: c.status().unwrap_or("UNKNOWN").to_string(),
            health: if c.status() == Some("ACTIVE") {
                Health::Healthy
            } else {
                Health::Degraded
            },
            zones: vec![],
            tasks: None,
            details: vec![
                ("services".into(), c.active_services_count().to_string()),
                ("running tasks".into(), c.running_tasks_count().to_string()),
            ],
            links: vec![],
            service: None,
        });
    }
    for (cluster_arn, (services, tasks)) in cluster_arns.iter().zip(per_cluster) {
        for s in services {
            out.push(service_resource(cluster_arn, &s, &tasks, taskdefs));
        }
    }
    Ok(out)
}

async fn read_cluster(client: &Client, cluster: &str) -> Result<(Vec<Service>, Vec<Task>), String> {
    let service_arns: Vec<String> = client
        .list_services()
        .cluster(cluster)
        .max_results(100)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| err_text("ECS ListServices", &e))?;
    let batches: Vec<Vec<String>> = service_arns
        .chunks(DESCRIBE_SERVICES_BATCH)
        .map(<[String]>::to_vec)
        .collect();
    let services: Vec<Vec<Service>> = stream::iter(batches)
        .map(|chunk| {
            let (client, cluster) = (client.clone(), cluster.to_string());
            async move {
                client
                    .describe_services()
                    .cluster(cluster)
                    .set_services(Some(chunk))
                    .send()
                    .await
                    .map(|o| o.services().to_vec())
                    .map_err(|e| err_text("ECS DescribeServices", &e))
            }
        })
        .buffered(CONCURRENCY)
        .try_collect()
        .await?;
    let task_arns: Vec<String> = client
        .list_tasks()
        .cluster(cluster)
        .max_results(100)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| err_text("ECS ListTasks", &e))?;
    let batches: Vec<Vec<String>> = task_arns.chunks(DESCRIBE_TASKS_BATCH).map(<[String]>::to_vec).collect();
    let tasks: Vec<Vec<Task>> = stream::iter(batches)
        .map(|chunk| {
            let (client, cluster) = (client.clone(), cluster.to_string());
            async move {
                client
                    .describe_tasks()
                    .cluster(cluster)
                    .set_tasks(Some(chunk))
                    .send()
                    .await
                    .map(|o| o.tasks().to_vec())
                    .map_err(|e| err_text("ECS DescribeTasks", &e))
            }
        })
        .buffered(CONCURRENCY)
        .try_collect()
        .await?;
    Ok((
        services.into_iter().flatten().collect(),
        tasks.into_iter().flatten().collect(),
    ))
}

fn service_resource(cluster_arn: &str, s: &Service, tasks: &[Task], taskdefs: &TaskDefCache) -> Resource {
    let name = s.service_name().unwrap_or_default().to_string();
    let counts = TaskCounts {
        running: s.running_count().max(0) as u32,
        desired: s.desired_count().max(0) as u32,
        pending: s.pending_count().max(0) as u32,
    };
    let group = format!("service:{name}");
    let task_infos: Vec<TaskInfo> = tasks
        .iter()
        .filter(|t| t.group() == Some(group.as_str()) || t.started_by() == s.service_arn())
        .map(|t| TaskInfo {
            id: t
                .task_arn()
                .and_then(|a| a.rsplit('/').next())
                .unwrap_or_default()
                .to_string(),
            az: t.availability_zone().map(str::to_string),
            last_status: t.last_status().unwrap_or_default().to_string(),
            desired_status: t.desired_status().unwrap_or_default().to_string(),
            health: t.health_status().map(|h| h.as_str().to_string()),
            task_definition: short_taskdef(t.task_definition_arn().unwrap_or_default()),
            started_ms: t.started_at().map(secs_to_ms),
        })
        .collect();
    let td_arn = s.task_definition().unwrap_or_default();
    let facts = taskdefs.get(td_arn).unwrap_or_default();
    let info = ServiceInfo {
        cluster: cluster_arn.rsplit('/').next().unwrap_or(cluster_arn).to_string(),
        task_definition: short_taskdef(td_arn),
        cpu: facts.cpu,
        memory: facts.memory,
        images: facts.images,
        launch_type: s.launch_type().map(|l| l.as_str().to_string()),
        deployments: s
            .deployments()
            .iter()
            .map(|d| DeploymentInfo {
                id: d.id().unwrap_or_default().to_string(),
                status: d.status().unwrap_or_default().to_string(),
                task_definition: short_taskdef(d.task_definition().unwrap_or_default()),
                running: d.running_count().max(0) as u32,
                desired: d.desired_count().max(0) as u32,
                pending: d.pending_count().max(0) as u32,
                rollout_state: d.rollout_state().map(|r| r.as_str().to_string()),
                created_ms: d.created_at().map(secs_to_ms),
                updated_ms: d.updated_at().map(secs_to_ms),
            })
            .collect(),
        events: s
            .events()
            .iter()
            .take(20)
            .map(|e| ServiceEvent {
                at_ms: e.created_at().map(secs_to_ms).unwrap_or(0),
                message: e.message().unwrap_or_default().to_string(),
            })
            .collect(),
        tasks: task_infos,
        target_groups: s
            .load_balancers()
            .iter()
            .filter_map(|l| l.target_group_arn().map(str::to_string))
            .collect(),
    };
    let mut zones: Vec<String> = info.tasks.iter().filter_map(|t| t.az.clone()).collect();
    zones.sort();
    zones.dedup();
    let status = s.status().unwrap_or("UNKNOWN").to_string();
    let health = if status != "ACTIVE" {
        Health::Unknown
    } else if counts.desired > 0 && counts.running == 0 {
        Health::Unhealthy
    } else if counts.running < counts.desired {
        Health::Degraded
    } else {
        Health::Healthy
    };
    let mut details = vec![("task definition".to_string(), info.task_definition.clone())];
    if let (Some(c), Some(m)) = (&info.cpu, &info.memory) {
        details.push(("cpu / memory".into(), format!("{c} / {m} MB")));
    }
    Resource {
        kind: ResourceKind::EcsService,
        name,
        id: s.service_arn().unwrap_or_default().to_string(),
        status,
        health,
        zones,
        tasks: Some(counts),
        details,
        links: vec![],
        service: Some(Box::new(info)),
    }
}

/// `arn:…:task-definition/family:7` → `family:7`.
fn short_taskdef(arn: &str) -> String {
    arn.rsplit('/').next().unwrap_or(arn).to_string()
}
