//! `DemoCloud`: the five seed systems of shared/seeds/, simulated in-process. Everything here is
//! demo data; the environments carry `demo = true` and every page that shows them says so.
//! Metrics move with the clock (deterministic waves, so two replicas agree), and alarms are
//! evaluated against them, so the overview changes over time like a real estate would.

use super::{BackupsData, Cloud, CloudError, ServiceNow, SeverityRules, TempCredentials};
use crate::model::{
    Alarm, AlarmState, BackupJobInfo, BackupPlanInfo, Chart, DataNote, DeploymentInfo, Gauge, Health, Inventory,
    RecoveryPointInfo, Resource, ResourceKind, Series, ServiceEvent, ServiceInfo, TaskCounts, TaskInfo, Tier,
    TimeRange,
};
use async_trait::async_trait;
use std::sync::Arc;

/// A demo environment as the seed documents describe it.
#[derive(Debug, Clone)]
pub struct DemoEnv {
    pub name: &'static str,
    pub tier: Tier,
    pub region: &'static str,
    pub account_id: Option<&'static str>,
    pub description: &'static str,
    /// Which seed document it comes from.
    pub seed: &'static str,
    pub rpo_hours: Option<u32>,
}

pub const DEMO_ENVS: [DemoEnv; 6] = [
    DemoEnv {
        name: "taskflow-production",
        tier: Tier::Prod,
        region: "us-east-1",
        account_id: Some("987654321098"),
        description: "TaskFlow: CloudFront + WAF → ALB over two AZs → ECS (2-20 tasks) → RDS primary/standby + Redis",
        seed: "004",
        rpo_hours: Some(24),
    },
    DemoEnv {
        name: "homebrew-bottles-sync-prod",
        tier: Tier::Prod,
        region: "us-east-1",
        account_id: None,
        description: "Homebrew Bottles Sync: Lambda orchestrator + sync worker, ECS Fargate task, S3, weekly EventBridge schedule",
        seed: "000",
        rpo_hours: Some(24),
    },
    DemoEnv {
        name: "homebrew-bottles-sync-staging",
        tier: Tier::Staging,
        region: "us-east-1",
        account_id: None,
        description: "Homebrew Bottles Sync staging: production-like on Fargate Spot, Saturday schedule",
        seed: "002",
        rpo_hours: None,
    },
    DemoEnv {
        name: "homebrew-bottles-sync-dev",
        tier: Tier::Dev,
        region: "us-west-2",
        account_id: None,
        description: "Homebrew Bottles Sync dev: smaller sizes, every 6 hours",
        seed: "002",
        rpo_hours: None,
    },
    DemoEnv {
        name: "docdb-bluegreen-prod",
        tier: Tier::Prod,
        region: "us-east-1",
        account_id: None,
        description: "Blue/green production: VPC over two AZs with a NAT each, ALB with two target groups, ECS 2-8 tasks, DocumentDB ×2",
        seed: "001",
        rpo_hours: Some(24),
    },
    DemoEnv {
        name: "curriculum-alignment-prod",
        tier: Tier::Prod,
        region: "eu-central-1",
        account_id: None,
        description: "Curriculum Alignment: CloudFormation stack of Lambda, API Gateway, S3 and DynamoDB; RPO 4 h / RTO 2 h",
        seed: "003",
        rpo_hours: Some(4),
    },
];

pub fn demo_env(name: &str) -> Option<&'static DemoEnv> {
    DEMO_ENVS.iter().find(|e| e.name == name)
}

pub struct DemoCloud {
    severity: Arc<SeverityRules>,
}

impl DemoCloud {
    pub fn new(severity: Arc<SeverityRules>) -> DemoCloud {
        DemoCloud { severity }
    }
}

#[async_trait]
impl Cloud for DemoCloud {
    async fn inventory(&self, env: &str, now_ms: i64) -> Result<Inventory, CloudError> {
        let sim = Sim {
            t: now_ms as f64 / 1000.0,
            now_ms,
        };
        let (mut resources, readings) =
            readings_at(env, &sim).ok_or_else(|| CloudError::UnknownEnvironment(env.to_string()))?;
        link_demo(&mut resources);
        let mut alarms = Vec::new();
        let mut gauges = Vec::new();
        for r in readings {
            gauges.push(Gauge {
                label: r.label.to_string(),
                value: round2(r.value),
                unit: r.unit.to_string(),
            });
            if let Some(a) = r.alarm {
                let firing = if a.above {
                    r.value > a.threshold
                } else {
                    r.value < a.threshold
                };
                let (state, reason) = if firing {
                    (
                        AlarmState::Alarm,
                        format!(
                            "Threshold crossed: {} {} {} (demo)",
                            round2(r.value),
                            if a.above { ">" } else { "<" },
                            a.threshold
                        ),
                    )
                } else {
                    (AlarmState::Ok, "Threshold not crossed (demo)".to_string())
                };
                let name = format!("{env}-{}", a.suffix);
                alarms.push(Alarm {
                    severity: self.severity.severity(&name),
                    name,
                    state,
                    reason,
                    condition: a.condition.to_string(),
                    since_ms: sim.since(a.flip_period),
                    resource: a.resource.map(|s| format!("{env}{s}")),
                    metric: Some(format!("demo/{}", r.label)),
                    threshold: Some(a.threshold),
                });
            }
        }
        alarms.sort_by(|a, b| {
            (b.state == AlarmState::Alarm)
                .cmp(&(a.state == AlarmState::Alarm))
                .then(a.severity.cmp(&b.severity))
        });
        Ok(Inventory {
            resources,
            alarms,
            gauges,
            fetched_ms: now_ms,
            notes: vec![],
        })
    }

    async fn metrics(
        &self,
        env: &str,
        _inv: &Inventory,
        range: TimeRange,
        now_ms: i64,
    ) -> Result<(Vec<Chart>, Vec<DataNote>), CloudError> {
        demo_charts(env, range, now_ms)
            .map(|c| (c, vec![]))
            .ok_or_else(|| CloudError::UnknownEnvironment(env.to_string()))
    }

    async fn backups(&self, env: &str, rpo_hours: Option<u32>, now_ms: i64) -> Result<BackupsData, CloudError> {
        demo_backups(env, rpo_hours, now_ms).ok_or_else(|| CloudError::UnknownEnvironment(env.to_string()))
    }

    async fn alarms_now(&self, env: &str) -> Result<Vec<Alarm>, CloudError> {
        Ok(self.inventory(env, chrono::Utc::now().timestamp_millis()).await?.alarms)
    }

    async fn alarm_history(
        &self,
        _env: &str,
        _alarm: &str,
        _since_ms: i64,
    ) -> Result<Vec<(i64, AlarmState)>, CloudError> {
        Err(CloudError::NotAvailable("the demo keeps no alarm history".into()))
    }

    async fn service_now(&self, env: &str, cluster: &str, service: &str) -> Result<ServiceNow, CloudError> {
        let inv = self.inventory(env, chrono::Utc::now().timestamp_millis()).await?;
        inv.resources
            .iter()
            .filter_map(|r| r.service.as_ref().map(|s| (r, s)))
            .find(|(r, s)| r.name == service && s.cluster == cluster)
            .map(|(r, s)| ServiceNow {
                task_definition: s.task_definition.clone(),
                deployments: s.deployments.clone(),
                running: r.tasks.map(|t| t.running).unwrap_or(0),
                desired: r.tasks.map(|t| t.desired).unwrap_or(0),
                events: s.events.clone(),
            })
            .ok_or_else(|| CloudError::NotAvailable(format!("no service {cluster}/{service} in {env}")))
    }

    fn rollback_off(&self, _env: &str) -> Option<String> {
        Some("this is a simulated demo environment: it has no operator role, so rollback is off".into())
    }

    async fn assume_role(
        &self,
        _env: &str,
        _role_arn: &str,
        _session_name: &str,
        duration_s: i32,
        _source_identity: &str,
        _tags: &[(String, String)],
    ) -> Result<TempCredentials, CloudError> {
        // Shaped like real credentials, valid nowhere, and named so.
        let id: String = (0..12).map(|_| char::from(b'A' + rand::random::<u8>() % 26)).collect();
        Ok(TempCredentials {
            access_key_id: format!("ASIADEMO{id}"),
            secret_access_key: "demo-secret-not-valid-anywhere".into(),
            session_token: "demo-session-token-not-valid-anywhere".into(),
            expires_ms: chrono::Utc::now().timestamp_millis() + i64::from(duration_s) * 1000,
        })
    }

    async fn deny_session(
        &self,
        _env: &str,
        _role: &str,
        session_name: &str,
        _before: i64,
    ) -> Result<String, CloudError> {
        Ok(format!("demo: no IAM policy was written (session {session_name})"))
    }

    async fn task_definition_arn(&self, _env: &str, _task_definition: &str) -> Result<String, CloudError> {
        Err(CloudError::NotAvailable("demo environments cannot be changed".into()))
    }

    async fn rollback(&self, _env: &str, _c: &str, _s: &str, _td: &str) -> Result<(), CloudError> {
        Err(CloudError::NotAvailable("demo environments cannot be changed".into()))
    }
}

/// The simulated estate of `env` at one instant.
fn readings_at(env: &str, sim: &Sim) -> Option<(Vec<Resource>, Vec<Reading>)> {
    Some(match env {
        "taskflow-production" => taskflow(sim),
        "homebrew-bottles-sync-prod" => homebrew(sim, HomebrewSize::Prod),
        "homebrew-bottles-sync-staging" => homebrew(sim, HomebrewSize::Staging),
        "homebrew-bottles-sync-dev" => homebrew(sim, HomebrewSize::Dev),
        "docdb-bluegreen-prod" => bluegreen(sim),
        "curriculum-alignment-prod" => curriculum(sim),
        _ => return None,
    })
}

/// What the status check reads from a demo reading.
fn series_key(label: &str) -> Option<String> {
    Some(
        match label {
            "Lambda error rate" => "lambda_error_rate",
            "API 5xx" => "api_5xx_rate",
            "Sync errors" => "lambda_errors",
            "Orchestrator invocations" => "lambda_invocations",
            _ => return None,
        }
        .to_string(),
    )
}

/// Charts of every reading of `env` over `range`, one point per period, ending now.
pub fn demo_charts(env: &str, range: TimeRange, now_ms: i64) -> Option<Vec<Chart>> {
    let period_ms = i64::from(range.period()) * 1000;
    let end = now_ms - now_ms.rem_euclid(period_ms);
    let start = end - range.seconds() * 1000;
    let mut charts: Vec<Chart> = Vec::new();
    let mut t = start + period_ms;
    while t <= end {
        let sim = Sim {
            t: t as f64 / 1000.0,
            now_ms: t,
        };
        let (_, readings) = readings_at(env, &sim)?;
        for r in readings {
            let value = round2(r.value);
            match charts.iter_mut().find(|c| c.title == r.label) {
                Some(c) => c.series[0].points.push((t, value)),
                None => charts.push(Chart {
                    title: r.label.to_string(),
                    unit: r.unit.to_string(),
                    series: vec![Series {
                        label: r.label.to_string(),
                        key: series_key(r.label),
                        points: vec![(t, value)],
                    }],
                    threshold: r.alarm.as_ref().map(|a| a.threshold),
                    note: None,
                }),
            }
        }
        t += period_ms;
    }
    Some(charts)
}

/// Backups of the demo environments as the seeds describe them. Homebrew's last daily job
/// failed, so its bucket's newest recovery point is past the RPO: the demo shows a failed backup.
pub fn demo_backups(env: &str, rpo_hours: Option<u32>, now_ms: i64) -> Option<BackupsData> {
    const H: i64 = 3_600_000;
    let day_start = now_ms - now_ms.rem_euclid(24 * H);
    let last_at = |hour: i64| {
        if day_start + hour * H <= now_ms {
            day_start + hour * H
        } else {
            day_start + hour * H - 24 * H
        }
    };
    let (vault, plan, resource, rtype, hour, every_h, failed_latest) = match env {
        "homebrew-bottles-sync-prod" => (
            ("homebrew-bottles-sync-prod-vault", 118),
            BackupPlanInfo {
                name: "homebrew-bottles-sync-prod-daily".into(),
                rules: vec![(
                    "daily".into(),
                    "cron(0 5 * * ? *)".into(),
                    "120 days (cold storage after 30)".into(),
                )],
            },
            "arn:aws:s3:::homebrew-bottles-sync-prod-bottles",
            "S3",
            5,
            24,
            true,
        ),
        "taskflow-production" => (
            ("taskflow-production-vault", 30),
            BackupPlanInfo {
                name: "taskflow-production-rds".into(),
                rules: vec![
                    ("daily".into(), "cron(0 2 * * ? *)".into(), "30 days".into()),
                    ("weekly".into(), "cron(0 3 ? * SUN *)".into(), "90 days".into()),
                ],
            },
            "arn:aws:rds:us-east-1:987654321098:db:taskflow-production",
            "RDS",
            2,
            24,
            false,
        ),
        "docdb-bluegreen-prod" => (
            ("docdb-bluegreen-prod-vault", 14),
            BackupPlanInfo {
                name: "docdb-bluegreen-prod-daily".into(),
                rules: vec![("daily".into(), "cron(0 4 * * ? *)".into(), "14 days".into())],
            },
            "arn:aws:rds:us-east-1:210987654321:cluster:docdb-bluegreen-prod-docdb",
            "DocumentDB",
            4,
            24,
            false,
        ),
        "curriculum-alignment-prod" => (
            ("curriculum-alignment-prod-vault", 42),
            BackupPlanInfo {
                name: "curriculum-alignment-prod-backup".into(),
                rules: vec![
                    ("full daily".into(), "cron(0 2 * * ? *)".into(), "35 days".into()),
                    ("incremental".into(), "cron(0 */4 * * ? *)".into(), "7 days".into()),
                ],
            },
            "arn:aws:dynamodb:eu-central-1:345678901234:table/curriculum-alignment-prod-programs",
            "DynamoDB",
            2,
            4,
            false,
        ),
        _ if demo_env(env).is_some() => {
            return Some(BackupsData {
                jobs: Some(vec![]),
                recovery_points: Some(vec![]),
                ..Default::default()
            });
        }
        _ => return None,
    };
    // The last eight runs, newest first.
    let newest = if every_h == 24 {
        last_at(hour)
    } else {
        now_ms - now_ms.rem_euclid(every_h * H)
    };
    let jobs: Vec<BackupJobInfo> = (0..8)
        .map(|i| {
            let at = newest - i * every_h * H;
            let failed = failed_latest && i == 0;
            BackupJobInfo {
                id: format!("demo-job-{env}-{i}"),
                resource: resource.to_string(),
                state: if failed { "FAILED" } else { "COMPLETED" }.into(),
                created_ms: at,
                message: if failed {
                    "Access denied: the backup role lacks kms:Decrypt on the bucket key (demo)".into()
                } else {
                    String::new()
                },
            }
        })
        .collect();
    let last_ok = jobs.iter().find(|j| j.state == "COMPLETED").map(|j| j.created_ms);
    let rpo_ms = i64::from(rpo_hours.unwrap_or(24)) * H;
    let late = last_ok.is_none_or(|t| now_ms - t > rpo_ms);
    Some(BackupsData {
        vaults: vec![(vault.0.to_string(), vault.1)],
        plans: vec![plan],
        jobs: Some(jobs),
        recovery_points: Some(vec![RecoveryPointInfo {
            resource: resource.to_string(),
            resource_type: rtype.to_string(),
            last_ms: last_ok,
            late,
        }]),
        notes: vec![],
    })
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

struct Sim {
    t: f64,
    now_ms: i64,
}

impl Sim {
    /// A value that drifts between `lo` and `hi` with the given period (seconds).
    fn wave(&self, lo: f64, hi: f64, period: f64, phase: f64) -> f64 {
        let x = (self.t / period * std::f64::consts::TAU + phase).sin() * 0.5 + 0.5;
        // A faster ripple so that consecutive refreshes differ.
        let ripple = (self.t / 37.0 + phase).sin() * 0.03;
        lo + (hi - lo) * (x + ripple).clamp(0.0, 1.0)
    }
    /// True during the first `share` of every `period` seconds (offset by `phase` seconds).
    fn window(&self, period: f64, share: f64, phase: f64) -> bool {
        ((self.t + phase).rem_euclid(period)) / period < share
    }
    /// Start of the current period: when the demo alarm last changed state.
    fn since(&self, period: f64) -> i64 {
        let p = (period * 1000.0) as i64;
        self.now_ms - self.now_ms.rem_euclid(p.max(1))
    }
}

struct AlarmSpec {
    suffix: &'static str,
    threshold: f64,
    above: bool,
    condition: &'static str,
    flip_period: f64,
    resource: Option<&'static str>,
}

struct Reading {
    label: &'static str,
    value: f64,
    unit: &'static str,
    alarm: Option<AlarmSpec>,
}

fn reading(label: &'static str, value: f64, unit: &'static str) -> Reading {
    Reading {
        label,
        value,
        unit,
        alarm: None,
    }
}

fn alarmed(
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

fn res(kind: ResourceKind, name: &str, id: &str, status: &str, zones: &[&str], details: &[(&str, String)]) -> Resource {
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

fn service(name: &str, id: &str, zones: &[&str], tasks: TaskCounts, details: &[(&str, String)]) -> Resource {
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
    }));
    r
}

/// Demo wiring of the request path: every load balancer forwards to the environment's target
/// groups, and every target group in use feeds the environment's ECS services.
fn link_demo(resources: &mut [Resource]) {
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

fn arn(region: &str, account: &str, rest: &str) -> String {
    format!(
        "arn:aws:{}",
        rest.replacen("{r}", region, 1).replacen("{a}", account, 1)
    )
}

fn taskflow(sim: &Sim) -> (Vec<Resource>, Vec<Reading>) {
    let (r, a) = ("us-east-1", "987654321098");
    let az = ["us-east-1a", "us-east-1b"];
    // Desired count follows the request rate (target tracking, 2-20 tasks); one task is replaced
    // for a minute every 15 minutes, so running dips below desired now and then.
    let rps = sim.wave(300.0, 620.0, 3600.0, 0.0);
    let desired = ((rps / 110.0).ceil() as u32).clamp(2, 20);
    let replacing = sim.window(900.0, 1.0 / 15.0, 0.0);
    let tasks = TaskCounts {
        running: desired - u32::from(replacing),
        desired,
        pending: u32::from(replacing),
    };
    let cpu = sim.wave(38.0, 91.0, 1200.0, 1.0);
    let resources = vec![
        res(
            ResourceKind::CloudFront,
            "taskflow.app",
            "E2TASKFLOWPROD",
            "Deployed",
            &[],
            &[
                ("origins", "ALB (API), S3 (static)".into()),
                ("price class", "PriceClass_All".into()),
            ],
        ),
        res(
            ResourceKind::Waf,
            "taskflow-production-acl",
            &arn(r, a, "wafv2:{r}:{a}:global/webacl/taskflow-production-acl"),
            "Enabled",
            &[],
            &[(
                "rules",
                "Common, KnownBadInputs, SQLi, RateLimit 2000/5 min, GeoBlock KP IR".into(),
            )],
        ),
        res(
            ResourceKind::LoadBalancer,
            "taskflow-production-alb",
            &arn(
                r,
                a,
                "elasticloadbalancing:{r}:{a}:loadbalancer/app/taskflow-production-alb/1",
            ),
            "active",
            &az,
            &[("listener", "HTTPS :443".into())],
        ),
        res(
            ResourceKind::TargetGroup,
            "taskflow-api-production-tg",
            &arn(
                r,
                a,
                "elasticloadbalancing:{r}:{a}:targetgroup/taskflow-api-production-tg/1",
            ),
            "healthy",
            &az,
            &[
                ("targets", format!("{} healthy", tasks.running)),
                ("port", "3001".into()),
            ],
        ),
        res(
            ResourceKind::EcsCluster,
            "taskflow-production",
            &arn(r, a, "ecs:{r}:{a}:cluster/taskflow-production"),
            "ACTIVE",
            &az,
            &[],
        ),
        service(
            "taskflow-api-production",
            &arn(r, a, "ecs:{r}:{a}:service/taskflow-production/taskflow-api-production"),
            &az,
            tasks,
            &[
                ("task definition", "taskflow-api-production:42".into()),
                ("cpu / memory", "1024 / 2048 MB".into()),
                ("autoscaling", "2-20 tasks, CPU 70 %, memory 80 %".into()),
            ],
        ),
        res(
            ResourceKind::RdsInstance,
            "taskflow-production",
            &arn(r, a, "rds:{r}:{a}:db:taskflow-production"),
            "available",
            &az,
            &[
                ("engine", "postgres 15.4".into()),
                ("class", "db.r6g.large".into()),
                ("multi-AZ", "primary us-east-1a, standby us-east-1b".into()),
                ("backup retention", "30 days".into()),
            ],
        ),
        res(
            ResourceKind::RdsInstance,
            "taskflow-production-replica-1",
            &arn(r, a, "rds:{r}:{a}:db:taskflow-production-replica-1"),
            "available",
            &["us-east-1b"],
            &[("engine", "postgres 15.4 read replica".into())],
        ),
        res(
            ResourceKind::ElastiCache,
            "taskflow-production-redis",
            &arn(r, a, "elasticache:{r}:{a}:replicationgroup:taskflow-production-redis"),
            "available",
            &az,
            &[
                ("engine", "redis 7.0, cluster mode".into()),
                ("nodes", "2 shards × (1 primary + 1 replica), cache.r6g.large".into()),
            ],
        ),
        res(
            ResourceKind::S3Bucket,
            "taskflow-production-static",
            "arn:aws:s3:::taskflow-production-static",
            "versioned",
            &[],
            &[],
        ),
        res(
            ResourceKind::NatGateway,
            "taskflow-production-nat-a",
            "nat-0a1",
            "available",
            &["us-east-1a"],
            &[],
        ),
        res(
            ResourceKind::NatGateway,
            "taskflow-production-nat-b",
            "nat-0b2",
            "available",
            &["us-east-1b"],
            &[],
        ),
    ];
    let readings = vec![
        reading("Requests/s", rps, "req/s"),
        reading("P50 latency", sim.wave(38.0, 60.0, 1800.0, 0.5), "ms"),
        alarmed(
            "P95 latency",
            sim.wave(150.0, 320.0, 1800.0, 0.5),
            "ms",
            "p95-latency",
            500.0,
            "> 500 ms for 5 min",
            Some("-alb"),
        ),
        reading("P99 latency", sim.wave(380.0, 720.0, 1800.0, 0.5), "ms"),
        alarmed(
            "Error rate",
            sim.wave(0.01, 0.09, 2400.0, 2.0),
            "%",
            "error-rate",
            1.0,
            "> 1 % for 5 min",
            Some("-alb"),
        ),
        alarmed(
            "Unhealthy tasks",
            f64::from(tasks.desired - tasks.running),
            "tasks",
            "service-down",
            0.0,
            "any task unhealthy",
            None,
        ),
        alarmed("CPU", cpu, "%", "cpu-high", 85.0, "> 85 % for 10 min", None),
        alarmed(
            "Memory",
            sim.wave(55.0, 70.0, 3000.0, 0.2),
            "%",
            "memory-high",
            90.0,
            "> 90 % for 10 min",
            None,
        ),
        alarmed(
            "DB connections",
            sim.wave(35.0, 60.0, 2000.0, 1.5),
            "% of max",
            "db-connections",
            80.0,
            "> 80 % for 5 min",
            None,
        ),
        alarmed("Disk space", 41.0, "%", "disk-space", 80.0, "> 80 %", None),
    ];
    (resources, readings)
}

#[derive(Clone, Copy, PartialEq)]
enum HomebrewSize {
    Dev,
    Staging,
    Prod,
}

fn homebrew(sim: &Sim, size: HomebrewSize) -> (Vec<Resource>, Vec<Reading>) {
    let (env, region, cpu_mem, worker_mem, schedule, spot) = match size {
        HomebrewSize::Prod => (
            "prod",
            "us-east-1",
            "2048 / 8192 MB",
            "3008 MB",
            "cron(0 3 ? * SUN *)",
            "no (on-demand only)",
        ),
        HomebrewSize::Staging => (
            "staging",
            "us-east-1",
            "2048 / 8192 MB",
            "3008 MB",
            "cron(0 3 ? * SAT *)",
            "yes (weight 3)",
        ),
        HomebrewSize::Dev => (
            "dev",
            "us-west-2",
            "1024 / 4096 MB",
            "1024 MB",
            "cron(0 */6 * * ? *)",
            "yes",
        ),
    };
    let a = "123456789012";
    let n = format!("homebrew-bottles-sync-{env}");
    let zones: Vec<String> = vec![format!("{region}a"), format!("{region}b")];
    let z: Vec<&str> = zones.iter().map(String::as_str).collect();
    // The Fargate sync task runs while a sync is in progress; on Spot it is interrupted now and then.
    let syncing = sim.window(1800.0, 0.4, 0.0);
    let interrupted = size != HomebrewSize::Prod && syncing && sim.window(600.0, 0.2, 120.0);
    let desired = u32::from(syncing);
    let tasks = TaskCounts {
        running: desired - u32::from(interrupted),
        desired,
        pending: u32::from(interrupted),
    };
    let mut resources = vec![
        res(
            ResourceKind::Lambda,
            &format!("{n}-orchestrator"),
            &arn(region, a, &format!("lambda:{{r}}:{{a}}:function:{n}-orchestrator")),
            "Active",
            &[],
            &[(
                "memory",
                if size == HomebrewSize::Dev {
                    "256 MB".into()
                } else {
                    "512 MB".into()
                },
            )],
        ),
        res(
            ResourceKind::Lambda,
            &format!("{n}-sync"),
            &arn(region, a, &format!("lambda:{{r}}:{{a}}:function:{n}-sync")),
            "Active",
            &[],
            &[("memory", worker_mem.into())],
        ),
        res(
            ResourceKind::EcsCluster,
            &n,
            &arn(region, a, &format!("ecs:{{r}}:{{a}}:cluster/{n}")),
            "ACTIVE",
            &z,
            &[("Fargate Spot", spot.into())],
        ),
        service(
            &format!("{n}-sync-worker"),
            &arn(region, a, &format!("ecs:{{r}}:{{a}}:service/{n}/{n}-sync-worker")),
            &z,
            tasks,
            &[
                ("cpu / memory", cpu_mem.into()),
                ("runs", "large downloads (> size threshold)".into()),
            ],
        ),
        res(
            ResourceKind::S3Bucket,
            &format!("{n}-bottles"),
            &format!("arn:aws:s3:::{n}-bottles"),
            "versioned",
            &[],
            &[(
                "lifecycle",
                if size == HomebrewSize::Prod {
                    "90 days".into()
                } else {
                    "30 days".into()
                },
            )],
        ),
        res(
            ResourceKind::EventBridgeRule,
            &format!("{n}-schedule"),
            &arn(region, a, &format!("events:{{r}}:{{a}}:rule/{n}-schedule")),
            "ENABLED",
            &[],
            &[("schedule", schedule.into())],
        ),
    ];
    if size == HomebrewSize::Prod {
        resources.push(res(
            ResourceKind::BackupVault,
            &format!("{n}-vault"),
            &arn(region, a, &format!("backup:{{r}}:{{a}}:backup-vault:{n}-vault")),
            "available",
            &[],
            &[],
        ));
        resources.push(res(
            ResourceKind::BackupPlan,
            &format!("{n}-daily"),
            "plan-homebrew-prod",
            "active",
            &[],
            &[
                ("schedule", "daily 05:00".into()),
                ("retention", "120 days, cold after 30".into()),
            ],
        ));
    }
    let (err_threshold, dur_threshold) = match size {
        HomebrewSize::Prod => (3.0, 180.0),
        _ => (5.0, 300.0),
    };
    let readings = vec![
        reading(
            "Orchestrator invocations",
            if syncing { sim.wave(4.0, 12.0, 300.0, 0.0) } else { 0.0 },
            "per 5 min",
        ),
        Reading {
            label: "Sync errors",
            // Errors happen only while syncing, and rarely.
            value: if syncing {
                sim.wave(0.0, 1.15, 5400.0, 1.0).floor()
            } else {
                0.0
            },
            unit: "count",
            alarm: Some(AlarmSpec {
                suffix: "lambda-errors",
                threshold: err_threshold,
                above: true,
                condition: if size == HomebrewSize::Prod {
                    "≥ 3 errors"
                } else {
                    "≥ 5 errors"
                },
                flip_period: 5400.0,
                resource: Some("-sync"),
            }),
        },
        Reading {
            label: "Sync duration",
            value: sim.wave(40.0, 150.0, 1800.0, 0.3),
            unit: "s",
            alarm: Some(AlarmSpec {
                suffix: "lambda-duration",
                threshold: dur_threshold,
                above: true,
                condition: if size == HomebrewSize::Prod {
                    "> 3 min"
                } else {
                    "> 5 min"
                },
                flip_period: 1800.0,
                resource: Some("-sync"),
            }),
        },
        reading(
            "ECS CPU",
            if syncing { sim.wave(40.0, 80.0, 700.0, 0.0) } else { 0.0 },
            "%",
        ),
        reading("Bucket size", 1800.0 + (sim.t / 86400.0).rem_euclid(30.0) * 4.0, "GB"),
        Reading {
            label: "Monthly cost",
            value: sim.wave(60.0, 85.0, 86400.0, 0.0),
            unit: "USD",
            alarm: Some(AlarmSpec {
                suffix: "cost",
                threshold: 100.0,
                above: true,
                condition: "> $100",
                flip_period: 86400.0,
                resource: None,
            }),
        },
    ];
    (resources, readings)
}

fn bluegreen(sim: &Sim) -> (Vec<Resource>, Vec<Reading>) {
    let (r, a, n) = ("us-east-1", "210987654321", "docdb-bluegreen-prod");
    let az = ["us-east-1a", "us-east-1b"];
    let desired = (sim.wave(2.0, 6.5, 3600.0, 0.7).round() as u32).clamp(2, 8);
    let tasks = TaskCounts {
        running: desired,
        desired,
        pending: 0,
    };
    let resources = vec![
        res(
            ResourceKind::CloudFront,
            &format!("{n}-cdn"),
            "E1BLUEGREEN",
            "Deployed",
            &[],
            &[("origins", "S3 site, ALB (API) via OAC".into())],
        ),
        res(
            ResourceKind::S3Bucket,
            &format!("{n}-site"),
            &format!("arn:aws:s3:::{n}-site"),
            "private",
            &[],
            &[],
        ),
        res(
            ResourceKind::Vpc,
            &format!("{n}-vpc"),
            "vpc-0bg1",
            "available",
            &az,
            &[("cidr", "10.1.0.0/16".into())],
        ),
        res(
            ResourceKind::NatGateway,
            &format!("{n}-nat-a"),
            "nat-0bga",
            "available",
            &["us-east-1a"],
            &[],
        ),
        res(
            ResourceKind::NatGateway,
            &format!("{n}-nat-b"),
            "nat-0bgb",
            "available",
            &["us-east-1b"],
            &[],
        ),
        res(
            ResourceKind::LoadBalancer,
            &format!("{n}-alb"),
            &arn(
                r,
                a,
                &format!("elasticloadbalancing:{{r}}:{{a}}:loadbalancer/app/{n}-alb/1"),
            ),
            "active",
            &az,
            &[("listeners", "HTTPS :443 (HTTP redirects), test listener :8443".into())],
        ),
        res(
            ResourceKind::TargetGroup,
            &format!("{n}-blue"),
            &arn(
                r,
                a,
                &format!("elasticloadbalancing:{{r}}:{{a}}:targetgroup/{n}-blue/1"),
            ),
            "healthy",
            &az,
            &[
                ("role", "live (production listener)".into()),
                ("targets", format!("{desired} healthy")),
            ],
        ),
        res(
            ResourceKind::TargetGroup,
            &format!("{n}-green"),
            &arn(
                r,
                a,
                &format!("elasticloadbalancing:{{r}}:{{a}}:targetgroup/{n}-green/1"),
            ),
            "unused",
            &az,
            &[("role", "standby (test listener)".into()), ("targets", "0".into())],
        ),
        res(
            ResourceKind::EcsCluster,
            n,
            &arn(r, a, &format!("ecs:{{r}}:{{a}}:cluster/{n}")),
            "ACTIVE",
            &az,
            &[],
        ),
        service(
            &format!("{n}-app"),
            &arn(r, a, &format!("ecs:{{r}}:{{a}}:service/{n}/{n}-app")),
            &az,
            tasks,
            &[
                ("deployment", "blue/green (CodeDeploy)".into()),
                ("autoscaling", "2-8 tasks, CPU target tracking".into()),
            ],
        ),
        res(
            ResourceKind::DocDbCluster,
            &format!("{n}-docdb"),
            &arn(r, a, &format!("rds:{{r}}:{{a}}:cluster:{n}-docdb")),
            "available",
            &az,
            &[
                ("backup retention", "14 days".into()),
                ("log exports", "audit, profiler".into()),
            ],
        ),
        res(
            ResourceKind::DocDbInstance,
            &format!("{n}-docdb-1"),
            &arn(r, a, &format!("rds:{{r}}:{{a}}:db:{n}-docdb-1")),
            "available",
            &["us-east-1a"],
            &[("role", "writer".into())],
        ),
        res(
            ResourceKind::DocDbInstance,
            &format!("{n}-docdb-2"),
            &arn(r, a, &format!("rds:{{r}}:{{a}}:db:{n}-docdb-2")),
            "available",
            &["us-east-1b"],
            &[("role", "reader".into())],
        ),
        res(
            ResourceKind::Ecr,
            &format!("{n}-app"),
            &arn(r, a, &format!("ecr:{{r}}:{{a}}:repository/{n}-app")),
            "scan on push",
            &[],
            &[],
        ),
    ];
    let readings = vec![
        reading("Requests/s", sim.wave(80.0, 260.0, 3600.0, 0.7), "req/s"),
        alarmed(
            "Target 5xx",
            sim.wave(0.0, 0.6, 2000.0, 0.1),
            "%",
            "alb-5xx",
            1.0,
            "> 1 % for 5 min",
            Some("-alb"),
        ),
        alarmed(
            "CPU",
            sim.wave(30.0, 75.0, 3600.0, 0.7),
            "%",
            "ecs-cpu-high",
            85.0,
            "> 85 % for 10 min",
            Some("-app"),
        ),
        reading("DocumentDB connections", sim.wave(40.0, 90.0, 3600.0, 0.7), "count"),
    ];
    (resources, readings)
}

fn curriculum(sim: &Sim) -> (Vec<Resource>, Vec<Reading>) {
    let (r, a, n) = ("eu-central-1", "345678901234", "curriculum-alignment-prod");
    let lambda = |f: &str| {
        res(
            ResourceKind::Lambda,
            &format!("{n}-{f}"),
            &arn(r, a, &format!("lambda:{{r}}:{{a}}:function:{n}-{f}")),
            "Active",
            &[],
            &[],
        )
    };
    let resources = vec![
        res(
            ResourceKind::CloudFormationStack,
            n,
            &arn(r, a, &format!("cloudformation:{{r}}:{{a}}:stack/{n}/1")),
            "UPDATE_COMPLETE",
            &[],
            &[],
        ),
        res(
            ResourceKind::ApiGateway,
            &format!("{n}-api"),
            "api-curriculum",
            "deployed",
            &[],
            &[("stage", "prod, rate limited and cached".into())],
        ),
        lambda("coordinator"),
        lambda("web-search"),
        lambda("document-processing"),
        lambda("semantic-search"),
        res(
            ResourceKind::S3Bucket,
            &format!("{n}-documents"),
            &format!("arn:aws:s3:::{n}-documents"),
            "versioned",
            &[],
            &[],
        ),
        res(
            ResourceKind::S3Bucket,
            "curriculum-alignment-backups-prod",
            "arn:aws:s3:::curriculum-alignment-backups-prod",
            "versioned",
            &[],
            &[],
        ),
        res(
            ResourceKind::DynamoDb,
            &format!("{n}-programs"),
            &arn(r, a, &format!("dynamodb:{{r}}:{{a}}:table/{n}-programs")),
            "ACTIVE",
            &[],
            &[("backup", "PITR".into())],
        ),
        res(
            ResourceKind::BackupPlan,
            &format!("{n}-backup"),
            "plan-curriculum",
            "active",
            &[],
            &[
                ("schedule", "full daily 02:00, incremental every 4 h".into()),
                ("RPO / RTO", "4 h / 2 h".into()),
            ],
        ),
    ];
    let readings = vec![
        reading("Lambda invocations", sim.wave(200.0, 900.0, 3600.0, 0.0), "per 5 min"),
        // Always above 1 %: the demo keeps one alarm firing so the console shows what that looks like.
        alarmed(
            "Lambda error rate",
            sim.wave(1.2, 2.1, 1500.0, 0.0),
            "%",
            "lambda-error-rate",
            1.0,
            "> 1 %",
            Some("-document-processing"),
        ),
        alarmed(
            "API 5xx",
            sim.wave(0.0, 0.4, 1900.0, 0.0),
            "%",
            "api-5xx",
            1.0,
            "> 1 % for 5 min",
            Some("-api"),
        ),
        reading("API latency p95", sim.wave(220.0, 480.0, 1900.0, 0.3), "ms"),
    ];
    (resources, readings)
}

/// The access profiles of the demo environments: seed 004's production access rules for TaskFlow
/// (read-only, database access needing two approvals, and the break-glass profile). Grants on
/// demo environments hand out credentials that work nowhere.
pub fn demo_profiles(env: &str) -> Vec<crate::ssr::config::AccessProfile> {
    use crate::ssr::config::AccessProfile;
    if env != "taskflow-production" {
        return vec![];
    }
    let profile = |name: &str, approvals: u32, max: u32, emergency: bool| AccessProfile {
        name: name.into(),
        role_arn: format!("arn:aws:iam::987654321098:role/{name}"),
        max_minutes: max,
        requester_groups: vec!["oncall".into()],
        approver_groups: vec!["tech-leads".into()],
        approvals,
        require_mfa: true,
        ticket_pattern: (!emergency).then(|| "^(INC|CHG)-[0-9]+$".to_string()),
        emergency,
    };
    vec![
        profile("prod-readonly", 1, 60, false),
        profile("prod-db-access", 2, 60, false),
        profile("prod-break-glass", 1, 30, true),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::health_of;

    fn cloud() -> DemoCloud {
        DemoCloud::new(Arc::new(SeverityRules::new(&[])))
    }

    #[tokio::test]
    async fn every_demo_environment_has_an_inventory_from_its_seed() -> Result<(), Box<dyn std::error::Error>> {
        let c = cloud();
        for env in &DEMO_ENVS {
            let inv = c.inventory(env.name, 1_800_000_000_000).await?;
            assert!(!inv.resources.is_empty(), "{}", env.name);
        }
        let tf = c.inventory("taskflow-production", 1_800_000_000_000).await?;
        let svc = tf
            .resources
            .iter()
            .find(|r| r.name == "taskflow-api-production")
            .ok_or("service")?;
        let t = svc.tasks.ok_or("counts")?;
        assert!((2..=20).contains(&t.desired), "{t:?}");
        assert!(tf.resources.iter().any(|r| r.kind == ResourceKind::ElastiCache));
        let bg = c.inventory("docdb-bluegreen-prod", 1_800_000_000_000).await?;
        assert_eq!(
            bg.resources
                .iter()
                .filter(|r| r.kind == ResourceKind::TargetGroup)
                .count(),
            2
        );
        assert_eq!(
            bg.resources
                .iter()
                .filter(|r| r.kind == ResourceKind::DocDbInstance)
                .count(),
            2
        );
        assert!(c.inventory("nope", 0).await.is_err());
        Ok(())
    }

    #[tokio::test]
    async fn curriculum_keeps_a_firing_alarm_and_metrics_move() -> Result<(), Box<dyn std::error::Error>> {
        let c = cloud();
        let a = c.inventory("curriculum-alignment-prod", 1_800_000_000_000).await?;
        let firing: Vec<_> = a.alarms.iter().filter(|x| x.state == AlarmState::Alarm).collect();
        assert!(
            firing
                .iter()
                .any(|x| x.name == "curriculum-alignment-prod-lambda-error-rate"),
            "{firing:?}"
        );
        assert_ne!(health_of(&a), Health::Healthy);
        let b = c.inventory("curriculum-alignment-prod", 1_800_000_300_000).await?;
        assert_ne!(a.gauges[0].value, b.gauges[0].value);
        Ok(())
    }
}
