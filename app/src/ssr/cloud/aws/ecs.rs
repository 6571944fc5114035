//! ECS: clusters, services (with deployments and events), tasks and task definitions, batched to
//! the API limits (DescribeServices 10, DescribeTasks 100, DescribeClusters 100) with every
//! paginator followed and a bounded number of calls in flight.

use super::{CONCURRENCY, err_text, secs_to_ms};
use crate::model::{
    DeploymentController, DeploymentInfo, Health, Resource, ResourceKind, ServiceEvent, ServiceInfo, TaskCounts,
    TaskInfo,
};
use crate::ssr::cloud::short_taskdef;
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

    // Task definitions: a running task of a revision already says its cpu, memory and images,
    // so only revisions without one are described (once: revisions are immutable).
    for (_, tasks) in &per_cluster {
        for t in tasks {
            if let Some(arn) = t.task_definition_arn()
                && taskdefs.get(arn).is_none()
            {
                taskdefs.put(arn, facts_from_task(t));
            }
        }
    }
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
            details: [
                ("services".to_string(), c.active_services_count().to_string()),
                ("running tasks".to_string(), c.running_tasks_count().to_string()),
            ]
            .into_iter()
            .chain(strategy(c.default_capacity_provider_strategy()).map(|t| (format!("default {CAPACITY}"), t)))
            .collect(),
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

/// Stopped tasks kept per service (newest first): enough to see why tasks keep dying.
pub const STOPPED_PER_SERVICE: usize = 5;

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
    let services = in_batches(service_arns, DESCRIBE_SERVICES_BATCH, |chunk| {
        let (client, cluster) = (client.clone(), cluster.to_string());
        async move {
            let out = client
                .describe_services()
                .cluster(cluster)
                .set_services(Some(chunk))
                .send()
                .await;
            out.map(|o| o.services().to_vec())
                .map_err(|e| err_text("ECS DescribeServices", &e))
        }
    })
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
    // The last stopped tasks (ECS keeps them about an hour): one page, newest first.
    let stopped_arns = client
        .list_tasks()
        .cluster(cluster)
        .desired_status(aws_sdk_ecs::types::DesiredStatus::Stopped)
        .max_results(100)
        .send()
        .await
        .map_err(|e| err_text("ECS ListTasks (stopped)", &e))?
        .task_arns()
        .to_vec();
    let task_arns: Vec<String> = task_arns.into_iter().chain(stopped_arns).collect();
    let tasks = in_batches(task_arns, DESCRIBE_TASKS_BATCH, |chunk| {
        let (client, cluster) = (client.clone(), cluster.to_string());
        async move {
            let out = client
                .describe_tasks()
                .cluster(cluster)
                .set_tasks(Some(chunk))
                .send()
                .await;
            out.map(|o| o.tasks().to_vec())
                .map_err(|e| err_text("ECS DescribeTasks", &e))
        }
    })
    .await?;
    Ok((services, tasks))
}

/// Describes `ids` in batches of `size` (the API's limit), up to CONCURRENCY batches at a time,
/// keeping the order.
async fn in_batches<T, F, Fut>(ids: Vec<String>, size: usize, describe: F) -> Result<Vec<T>, String>
where
    F: FnMut(Vec<String>) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<T>, String>>,
{
    let batches: Vec<Vec<String>> = ids.chunks(size).map(<[String]>::to_vec).collect();
    let described: Vec<Vec<T>> = stream::iter(batches)
        .map(describe)
        .buffered(CONCURRENCY)
        .try_collect()
        .await?;
    Ok(described.into_iter().flatten().collect())
}

fn service_resource(cluster_arn: &str, s: &Service, tasks: &[Task], taskdefs: &TaskDefCache) -> Resource {
    let name = s.service_name().unwrap_or_default().to_string();
    let counts = TaskCounts {
        running: s.running_count().max(0) as u32,
        desired: s.desired_count().max(0) as u32,
        pending: s.pending_count().max(0) as u32,
    };
    let group = format!("service:{name}");
    let (stopped, live): (Vec<&Task>, Vec<&Task>) = tasks
        .iter()
        .filter(|t| t.group() == Some(group.as_str()) || t.started_by() == s.service_arn())
        .partition(|t| t.desired_status() == Some("STOPPED") && t.last_status() == Some("STOPPED"));
    let mut stopped: Vec<TaskInfo> = stopped.into_iter().map(task_info).collect();
    stopped.sort_by_key(|t| std::cmp::Reverse(t.started_ms));
    stopped.truncate(STOPPED_PER_SERVICE);
    let task_infos: Vec<TaskInfo> = live.into_iter().map(task_info).collect();
    let td_arn = s.task_definition().unwrap_or_default();
    let facts = taskdefs.get(td_arn).unwrap_or_default();
    let info = ServiceInfo {
        cluster: cluster_arn.rsplit('/').next().unwrap_or(cluster_arn).to_string(),
        task_definition: short_taskdef(td_arn),
        cpu: facts.cpu,
        memory: facts.memory,
        images: facts.images,
        launch_type: s.launch_type().map(|l| l.as_str().to_string()),
        deployments: deployments(s),
        events: events(s),
        tasks: task_infos,
        target_groups: s
            .load_balancers()
            .iter()
            .filter_map(|l| l.target_group_arn().map(str::to_string))
            .collect(),
        controller: DeploymentController::parse(s.deployment_controller().map(|c| c.r#type().as_str())),
        stopped,
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
    if info.controller != DeploymentController::Ecs {
        details.push(("deployment controller".into(), info.controller.label().into()));
    }
    if let Some(text) = strategy(s.capacity_provider_strategy()) {
        details.push((CAPACITY.into(), text));
    }
    if let Some(t) = info.stopped.first() {
        details.push((
            "last stopped task".into(),
            format!(
                "{}: {}",
                t.id.chars().take(8).collect::<String>(),
                t.stopped_reason.as_deref().unwrap_or("no reason given")
            ),
        ));
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

/// The detail that shows a capacity-provider strategy (Spot or not).
pub const CAPACITY: &str = "capacity providers";

/// "FARGATE_SPOT (weight 3), FARGATE (base 1, weight 1)"; None for no strategy.
fn strategy(items: &[aws_sdk_ecs::types::CapacityProviderStrategyItem]) -> Option<String> {
    let parts: Vec<String> = items
        .iter()
        .map(|c| {
            let base = if c.base() > 0 {
                format!("base {}, ", c.base())
            } else {
                String::new()
            };
            format!("{} ({base}weight {})", c.capacity_provider(), c.weight())
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

fn task_info(t: &Task) -> TaskInfo {
    TaskInfo {
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
        started_ms: t.stopped_at().or(t.started_at()).map(secs_to_ms),
        stopped_reason: t.stopped_reason().map(str::to_string),
    }
}

/// What a task tells of its revision: task-level cpu and memory (Fargate), else the sum over its
/// containers, and the containers' images.
fn facts_from_task(t: &Task) -> TaskDefFacts {
    let sum = |f: fn(&aws_sdk_ecs::types::Container) -> Option<&str>| -> Option<String> {
        let parts: Vec<u64> = t.containers().iter().filter_map(|c| f(c)?.parse().ok()).collect();
        (!parts.is_empty()).then(|| parts.iter().sum::<u64>().to_string())
    };
    TaskDefFacts {
        cpu: t.cpu().map(str::to_string).or_else(|| sum(|c| c.cpu())),
        memory: t.memory().map(str::to_string).or_else(|| sum(|c| c.memory())),
        images: t
            .containers()
            .iter()
            .filter_map(|c| c.image().map(str::to_string))
            .collect(),
    }
}

/// `arn:…:task-definition/family:7` → `family:7`.
/// A service's deployments as the console shows them.
pub(crate) fn deployments(s: &Service) -> Vec<DeploymentInfo> {
    s.deployments()
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
        .collect()
}

/// A service's last 20 events, newest first.
pub(crate) fn events(s: &Service) -> Vec<ServiceEvent> {
    s.events()
        .iter()
        .take(20)
        .map(|e| ServiceEvent {
            at_ms: e.created_at().map(secs_to_ms).unwrap_or(0),
            message: e.message().unwrap_or_default().to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ecs::operation::describe_clusters::DescribeClustersOutput;
    use aws_sdk_ecs::operation::describe_services::DescribeServicesOutput;
    use aws_sdk_ecs::operation::describe_task_definition::DescribeTaskDefinitionOutput;
    use aws_sdk_ecs::operation::describe_tasks::DescribeTasksOutput;
    use aws_sdk_ecs::operation::list_clusters::ListClustersOutput;
    use aws_sdk_ecs::operation::list_services::ListServicesOutput;
    use aws_sdk_ecs::operation::list_tasks::ListTasksOutput;
    use aws_sdk_ecs::types::{Cluster, ContainerDefinition, TaskDefinition};
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
    use std::time::Duration;

    const CLUSTER: &str = "arn:aws:ecs:us-east-1:1:cluster/c1";
    const TD: &str = "arn:aws:ecs:us-east-1:1:task-definition/api:7";

    fn client(rules: &[&Rule]) -> Client {
        mock_client!(aws_sdk_ecs, RuleMode::MatchAny, rules, |c| c
            .retry_config(
                aws_config::retry::RetryConfig::standard()
                    .with_max_attempts(3)
                    .with_initial_backoff(Duration::from_millis(1))
            )
            .sleep_impl(aws_smithy_async::rt::sleep::SharedAsyncSleep::new(
                aws_smithy_async::rt::sleep::TokioSleep::new()
            )))
    }

    fn one_cluster() -> (Rule, Rule) {
        (
            mock!(Client::list_clusters).then_output(|| ListClustersOutput::builder().cluster_arns(CLUSTER).build()),
            mock!(Client::describe_clusters).then_output(|| {
                DescribeClustersOutput::builder()
                    .clusters(
                        Cluster::builder()
                            .cluster_arn(CLUSTER)
                            .cluster_name("c1")
                            .status("ACTIVE")
                            .build(),
                    )
                    .build()
            }),
        )
    }

    fn arns(kind: &str, range: std::ops::Range<usize>) -> Vec<String> {
        range
            .map(|i| format!("arn:aws:ecs:us-east-1:1:{kind}/c1/{kind}-{i:03}"))
            .collect()
    }

    #[tokio::test]
    async fn pages_are_followed_and_describes_batched_to_the_api_limits() -> Result<(), Box<dyn std::error::Error>> {
        let (lc, dc) = one_cluster();
        // ListServices: an empty first page with a token, then 10, then 15 (25 services).
        let p1 = mock!(Client::list_services)
            .match_requests(|r| r.next_token().is_none())
            .then_output(|| ListServicesOutput::builder().next_token("t2").build());
        let p2 = mock!(Client::list_services)
            .match_requests(|r| r.next_token() == Some("t2"))
            .then_output(|| {
                ListServicesOutput::builder()
                    .set_service_arns(Some(arns("service", 0..10)))
                    .next_token("t3")
                    .build()
            });
        let p3 = mock!(Client::list_services)
            .match_requests(|r| r.next_token() == Some("t3"))
            .then_output(|| {
                ListServicesOutput::builder()
                    .set_service_arns(Some(arns("service", 10..25)))
                    .build()
            });
        let ds = mock!(Client::describe_services).then_compute_output(|r| {
            assert!(
                r.services().len() <= DESCRIBE_SERVICES_BATCH,
                "DescribeServices takes at most 10"
            );
            let services = r
                .services()
                .iter()
                .map(|arn| {
                    let name = arn.rsplit('/').next().unwrap_or_default();
                    Service::builder()
                        .service_arn(arn)
                        .service_name(name)
                        .status("ACTIVE")
                        .desired_count(2)
                        .running_count(if name == "service-003" { 1 } else { 2 })
                        .task_definition(TD)
                        .build()
                })
                .collect();
            DescribeServicesOutput::builder().set_services(Some(services)).build()
        });
        let lt = mock!(Client::list_tasks)
            .match_requests(|r| r.desired_status().is_none())
            .then_output(|| {
                ListTasksOutput::builder()
                    .set_task_arns(Some(arns("task", 0..150)))
                    .build()
            });
        let stopped = mock!(Client::list_tasks)
            .match_requests(|r| r.desired_status() == Some(&aws_sdk_ecs::types::DesiredStatus::Stopped))
            .then_output(|| ListTasksOutput::builder().build());
        let dt = mock!(Client::describe_tasks).then_compute_output(|r| {
            assert!(
                r.tasks().len() <= DESCRIBE_TASKS_BATCH,
                "DescribeTasks takes at most 100"
            );
            let tasks = r
                .tasks()
                .iter()
                .enumerate()
                .map(|(i, arn)| {
                    Task::builder()
                        .task_arn(arn)
                        .group(format!("service:service-{:03}", i % 25))
                        .last_status("RUNNING")
                        .availability_zone(if i % 2 == 0 { "us-east-1a" } else { "us-east-1b" })
                        .build()
                })
                .collect();
            DescribeTasksOutput::builder().set_tasks(Some(tasks)).build()
        });
        let td = mock!(Client::describe_task_definition).then_output(|| {
            DescribeTaskDefinitionOutput::builder()
                .task_definition(
                    TaskDefinition::builder()
                        .cpu("1024")
                        .memory("2048")
                        .container_definitions(ContainerDefinition::builder().image("repo/api:1.5.0").build())
                        .build(),
                )
                .build()
        });
        let c = client(&[&lc, &dc, &p1, &p2, &p3, &ds, &lt, &stopped, &dt, &td]);
        let cache = TaskDefCache::default();
        let out = read(&c, &cache).await?;
        let services: Vec<&Resource> = out.iter().filter(|r| r.kind == ResourceKind::EcsService).collect();
        assert_eq!(services.len(), 25);
        assert_eq!((p1.num_calls(), p2.num_calls(), p3.num_calls()), (1, 1, 1));
        assert_eq!(ds.num_calls(), 3, "25 services in batches of 10");
        assert_eq!(dt.num_calls(), 2, "150 tasks in batches of 100");
        assert_eq!(td.num_calls(), 1, "one task definition, read once");
        let s3 = services.iter().find(|r| r.name == "service-003").ok_or("service-003")?;
        assert_eq!(s3.health, Health::Degraded);
        let info = s3.service.as_ref().ok_or("info")?;
        assert_eq!(info.cpu.as_deref(), Some("1024"));
        assert_eq!(info.images, vec!["repo/api:1.5.0".to_string()]);
        assert_eq!(info.tasks.len(), 6, "150 tasks over 25 services");
        assert_eq!(s3.zones, vec!["us-east-1a".to_string(), "us-east-1b".to_string()]);
        // Task definitions are immutable: a second read does not describe them again.
        read(&c, &cache).await?;
        assert_eq!(td.num_calls(), 1);
        Ok(())
    }

    #[tokio::test]
    async fn throttling_and_server_errors_are_retried() -> Result<(), Box<dyn std::error::Error>> {
        let lc = mock!(Client::list_clusters)
            .sequence()
            .http_status(
                400,
                Some(r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.to_string()),
            )
            .http_status(500, None)
            .output(|| ListClustersOutput::builder().build())
            .build();
        let c = client(&[&lc]);
        let out = read(&c, &TaskDefCache::default()).await?;
        assert!(out.is_empty());
        assert_eq!(lc.num_calls(), 3);
        Ok(())
    }

    #[tokio::test]
    async fn an_error_that_persists_names_the_call() {
        let lc = mock!(Client::list_clusters)
            .sequence()
            .http_status(503, None)
            .times(5)
            .build();
        let c = client(&[&lc]);
        match read(&c, &TaskDefCache::default()).await {
            Err(e) => assert!(e.starts_with("ECS ListClusters:"), "{e}"),
            Ok(_) => panic!("a failing endpoint must give an error"),
        }
        assert_eq!(lc.num_calls(), 3, "three attempts, then the error");
    }
}
