//! The building blocks of the simulation: the clock (`Sim`, deterministic waves so that two
//! replicas agree), readings with their alarms, and builders of resources and ECS services.

use crate::model::{
    DeploymentController, DeploymentInfo, Health, Resource, ResourceKind, ServiceEvent, ServiceInfo, TaskCounts,
    TaskInfo,
};

pub(super) fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

pub(super) struct Sim {
    pub(super) t: f64,
    pub(super) now_ms: i64,
}

impl Sim {
    /// A value that drifts between `lo` and `hi` with the given period (seconds).
    pub(super) fn wave(&self, lo: f64, hi: f64, period: f64, phase: f64) -> f64 {
        let x = (self.t / period * std::f64::consts::TAU + phase).sin() * 0.5 + 0.5;
        // A faster ripple so that consecutive refreshes differ.
        let ripple = (self.t / 37.0 + phase).sin() * 0.03;
        lo + (hi - lo) * (x + ripple).clamp(0.0, 1.0)
    }
    /// True during the first `share` of every `period` seconds (offset by `phase` seconds).
    pub(super) fn window(&self, period: f64, share: f64, phase: f64) -> bool {
        ((self.t + phase).rem_euclid(period)) / period < share
    }
    /// Start of the current period: when the demo alarm last changed state.
    pub(super) fn since(&self, period: f64) -> i64 {
        let p = (period * 1000.0) as i64;
        self.now_ms - self.now_ms.rem_euclid(p.max(1))
    }
}

pub(super) struct AlarmSpec {
    pub(super) suffix: &'static str,
    pub(super) threshold: f64,
    pub(super) above: bool,
    pub(super) condition: &'static str,
    pub(super) flip_period: f64,
    pub(super) resource: Option<&'static str>,
}

pub(super) struct Reading {
    pub(super) label: &'static str,
    pub(super) value: f64,
    pub(super) unit: &'static str,
    pub(super) alarm: Option<AlarmSpec>,
}

pub(super) fn reading(label: &'static str, value: f64, unit: &'static str) -> Reading {
    Reading {
        label,
        value,
        unit,
        alarm: None,
    }
}

pub(super) fn alarmed(
    label: &'static str,
    value: f64,
    unit: &'static str,
    suffix: &'static str,
    threshold: f64,
    condition: &'static str,
    resource: Option<&'static str>,
) -> Reading {
    Reading {
        label,
        value,
        unit,
        alarm: Some(AlarmSpec {
            suffix,
            threshold,
            above: true,
            condition,
            flip_period: 600.0,
            resource,
        }),
    }
}

pub(super) fn res(
    kind: ResourceKind,
    name: &str,
    id: &str,
    status: &str,
    zones: &[&str],
    details: &[(&str, String)],
) -> Resource {
    Resource {
        kind,
        name: name.to_string(),
        id: id.to_string(),
        status: status.to_string(),
        health: Health::Healthy,
        zones: zones.iter().map(|z| z.to_string()).collect(),
        tasks: None,
        details: details.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
        links: vec![],
        service: None,
    }
}

pub(super) fn service(name: &str, id: &str, zones: &[&str], tasks: TaskCounts, details: &[(&str, String)]) -> Resource {
    let mut r = res(ResourceKind::EcsService, name, id, "ACTIVE", zones, details);
    r.health = if tasks.running >= tasks.desired {
        Health::Healthy
    } else {
        Health::Degraded
    };
    r.tasks = Some(tasks);
    let cluster = id.rsplit('/').nth(1).unwrap_or_default().to_string();
    let revision = details
        .iter()
        .find(|(k, _)| *k == "task definition")
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| format!("{name}:1"));
    let (cpu, memory) = details
        .iter()
        .find(|(k, _)| *k == "cpu / memory")
        .and_then(|(_, v)| {
            v.trim_end_matches(" MB")
                .split_once(" / ")
                .map(|(c, m)| (c.to_string(), m.to_string()))
        })
        .unzip();
    // Tasks spread over the zones; a pending one shows up as PROVISIONING.
    let mut task_list: Vec<TaskInfo> = (0..tasks.running + tasks.pending)
        .map(|i| TaskInfo {
            id: format!("{:032x}", (i as u128 + 1) * 0x9e37_79b9_7f4a_7c15),
            az: zones.get(i as usize % zones.len().max(1)).map(|z| z.to_string()),
            last_status: if i < tasks.running {
                "RUNNING".into()
            } else {
                "PROVISIONING".into()
            },
            desired_status: "RUNNING".into(),
            stopped_reason: None,
            health: Some(if i < tasks.running {
                "HEALTHY".into()
            } else {
                "UNKNOWN".into()
            }),
            task_definition: revision.clone(),
            started_ms: None,
        })
        .collect();
    task_list.sort_by(|a, b| a.az.cmp(&b.az));
    r.service = Some(Box::new(ServiceInfo {
        cluster,
        task_definition: revision.clone(),
        cpu,
        memory,
        images: vec![format!("{name}:demo")],
        launch_type: Some("FARGATE".into()),
        deployments: vec![DeploymentInfo {
            id: "ecs-svc/demo".into(),
            status: "PRIMARY".into(),
            task_definition: revision,
            running: tasks.running,
            desired: tasks.desired,
            pending: tasks.pending,
            rollout_state: Some(if tasks.pending > 0 { "IN_PROGRESS" } else { "COMPLETED" }.into()),
            created_ms: None,
            updated_ms: None,
        }],
        events: vec![ServiceEvent {
            at_ms: 0,
            message: format!("(service {name}) has reached a steady state. (demo)"),
        }],
        tasks: task_list,
        target_groups: vec![],
        // Seed 001's service is deployed blue/green by CodeDeploy.
        controller: if details
            .iter()
            .any(|(k, v)| *k == "deployment" && v.contains("CodeDeploy"))
        {
            DeploymentController::CodeDeploy
        } else {
            DeploymentController::Ecs
        },
        stopped: vec![],
    }));
    r
}

/// Demo wiring of the request path: every load balancer forwards to the environment's target
/// groups, and every target group in use feeds the environment's ECS services.
pub(super) fn link_demo(resources: &mut [Resource]) {
    let tgs: Vec<(String, bool)> = resources
        .iter()
        .filter(|r| r.kind == ResourceKind::TargetGroup)
        .map(|r| (r.id.clone(), r.status != "unused"))
        .collect();
    let services: Vec<String> = resources
        .iter()
        .filter(|r| r.kind == ResourceKind::EcsService)
        .map(|r| r.id.clone())
        .collect();
    for r in resources.iter_mut() {
        match r.kind {
            ResourceKind::LoadBalancer => r.links = tgs.iter().map(|(id, _)| id.clone()).collect(),
            ResourceKind::TargetGroup if tgs.iter().any(|(id, used)| *id == r.id && *used) => {
                r.links = services.clone();
            }
            ResourceKind::EcsService => {
                if let Some(info) = r.service.as_mut() {
                    info.target_groups = tgs.iter().filter(|(_, used)| *used).map(|(id, _)| id.clone()).collect();
                }
            }
            _ => {}
        }
    }
}

pub(super) fn arn(region: &str, account: &str, rest: &str) -> String {
    format!(
        "arn:aws:{}",
        rest.replacen("{r}", region, 1).replacen("{a}", account, 1)
    )
}
