//! Types shared by the server and the browser: what server functions return.

use serde::{Deserialize, Serialize};

pub mod access;
pub mod activity;
pub mod incidents;
pub mod time;
pub use access::*;
pub use activity::*;
pub use incidents::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Dev,
    Staging,
    Prod,
}

impl Tier {
    pub fn label(self) -> &'static str {
        match self {
            Tier::Dev => "dev",
            Tier::Staging => "staging",
            Tier::Prod => "prod",
        }
    }
}

/// Console roles. `responder` and `approver` include `viewer`; `admin` includes `viewer` but not
/// `approver` (docs/ARCHITECTURE.md, "Invariants").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Responder,
    Approver,
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Responder, Role::Approver, Role::Admin];

    pub fn label(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Responder => "responder",
            Role::Approver => "approver",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.label() == s)
    }
}

/// True when someone holding `held` roles may act as `needed`.
pub fn roles_allow(held: &[Role], needed: Role) -> bool {
    held.iter().any(|&h| {
        h == needed || (needed == Role::Viewer && matches!(h, Role::Responder | Role::Approver | Role::Admin))
    })
}

/// Who is looking at the page, as the browser may know it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewer {
    pub subject: String,
    pub name: String,
    pub roles: Vec<Role>,
    /// True for the anonymous reader of `dev` mode.
    pub anonymous: bool,
    /// "dev" or "oidc".
    pub auth_mode: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    Healthy,
    Degraded,
    Unhealthy,
    /// The console could not read the environment (or not yet).
    Unknown,
}

impl Health {
    pub fn label(self) -> &'static str {
        match self {
            Health::Healthy => "healthy",
            Health::Degraded => "degraded",
            Health::Unhealthy => "unhealthy",
            Health::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
pub enum ResourceKind {
    CloudFront,
    Waf,
    LoadBalancer,
    TargetGroup,
    EcsCluster,
    EcsService,
    RdsInstance,
    DocDbCluster,
    DocDbInstance,
    ElastiCache,
    Lambda,
    ApiGateway,
    S3Bucket,
    DynamoDb,
    EventBridgeRule,
    CloudFormationStack,
    Vpc,
    NatGateway,
    Ecr,
    BackupVault,
    BackupPlan,
    Other(String),
}

impl ResourceKind {
    pub fn label(&self) -> &str {
        match self {
            ResourceKind::CloudFront => "CloudFront distribution",
            ResourceKind::Waf => "WAF web ACL",
            ResourceKind::LoadBalancer => "Load balancer",
            ResourceKind::TargetGroup => "Target group",
            ResourceKind::EcsCluster => "ECS cluster",
            ResourceKind::EcsService => "ECS service",
            ResourceKind::RdsInstance => "RDS instance",
            ResourceKind::DocDbCluster => "DocumentDB cluster",
            ResourceKind::DocDbInstance => "DocumentDB instance",
            ResourceKind::ElastiCache => "ElastiCache",
            ResourceKind::Lambda => "Lambda function",
            ResourceKind::ApiGateway => "API Gateway",
            ResourceKind::S3Bucket => "S3 bucket",
            ResourceKind::DynamoDb => "DynamoDB table",
            ResourceKind::EventBridgeRule => "EventBridge rule",
            ResourceKind::CloudFormationStack => "CloudFormation stack",
            ResourceKind::Vpc => "VPC",
            ResourceKind::NatGateway => "NAT gateway",
            ResourceKind::Ecr => "ECR repository",
            ResourceKind::BackupVault => "Backup vault",
            ResourceKind::BackupPlan => "Backup plan",
            ResourceKind::Other(s) => s,
        }
    }
}

/// Task counts of an ECS service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskCounts {
    pub running: u32,
    pub desired: u32,
    pub pending: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resource {
    pub kind: ResourceKind,
    pub name: String,
    /// ARN or another stable identifier.
    pub id: String,
    /// The provider's own status word (ACTIVE, available, Enabled…).
    pub status: String,
    pub health: Health,
    /// Availability zones the resource sits in, when known.
    pub zones: Vec<String>,
    pub tasks: Option<TaskCounts>,
    /// Further facts worth a column: (label, value).
    pub details: Vec<(String, String)>,
    /// Ids of the resources this one sends traffic to (load balancer → target group → service).
    pub links: Vec<String>,
    /// ECS services: task definition, deployments, tasks, events.
    pub service: Option<Box<ServiceInfo>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ServiceInfo {
    pub cluster: String,
    pub task_definition: String,
    pub cpu: Option<String>,
    pub memory: Option<String>,
    pub images: Vec<String>,
    pub launch_type: Option<String>,
    pub deployments: Vec<DeploymentInfo>,
    /// Newest first.
    pub events: Vec<ServiceEvent>,
    pub tasks: Vec<TaskInfo>,
    pub target_groups: Vec<String>,
    /// Who deploys it: ECS itself, CodeDeploy (blue/green) or an external controller.
    #[serde(default)]
    pub controller: DeploymentController,
    /// The last tasks that stopped, newest first, with why (`stoppedReason`).
    #[serde(default)]
    pub stopped: Vec<TaskInfo>,
}

/// The deployment controller of an ECS service. Only an `Ecs` service can be rolled back with
/// UpdateService; ECS refuses it for the other two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum DeploymentController {
    #[default]
    Ecs,
    CodeDeploy,
    External,
}

impl DeploymentController {
    pub fn label(&self) -> &'static str {
        match self {
            DeploymentController::Ecs => "ECS",
            DeploymentController::CodeDeploy => "CODE_DEPLOY",
            DeploymentController::External => "EXTERNAL",
        }
    }

    /// The API's word; a service without one is deployed by ECS. A word the console does not
    /// know is taken as external: it is not rolled back by guessing.
    pub fn parse(s: Option<&str>) -> DeploymentController {
        match s {
            None | Some("ECS") => DeploymentController::Ecs,
            Some("CODE_DEPLOY") => DeploymentController::CodeDeploy,
            Some(_) => DeploymentController::External,
        }
    }
}

impl ServiceInfo {
    /// Running tasks per availability zone, sorted by zone.
    pub fn running_by_zone(&self) -> Vec<(String, u32)> {
        let mut out: Vec<(String, u32)> = Vec::new();
        for t in self.tasks.iter().filter(|t| t.last_status == "RUNNING") {
            let az = t.az.clone().unwrap_or_else(|| "unknown AZ".into());
            match out.iter_mut().find(|(z, _)| *z == az) {
                Some((_, n)) => *n += 1,
                None => out.push((az, 1)),
            }
        }
        out.sort();
        out
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct DeploymentInfo {
    pub id: String,
    /// PRIMARY, ACTIVE or INACTIVE.
    pub status: String,
    pub task_definition: String,
    pub running: u32,
    pub desired: u32,
    pub pending: u32,
    /// IN_PROGRESS, COMPLETED, FAILED, when ECS reports it.
    pub rollout_state: Option<String>,
    pub created_ms: Option<i64>,
    pub updated_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceEvent {
    pub at_ms: i64,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskInfo {
    pub id: String,
    pub az: Option<String>,
    pub last_status: String,
    pub desired_status: String,
    pub health: Option<String>,
    pub task_definition: String,
    pub started_ms: Option<i64>,
    /// Why a stopped task stopped.
    #[serde(default)]
    pub stopped_reason: Option<String>,
}

/// Something the reader of a page must know about the data: a part that could not be read, or
/// one served from the cache after a failed refresh.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataNote {
    /// Which part of the environment: "ECS", "load balancers", "databases", "tagged resources".
    pub part: String,
    pub message: String,
    /// Set when older data is shown instead: its age in seconds.
    pub stale_age_s: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AlarmState {
    Ok,
    Alarm,
    InsufficientData,
}

impl AlarmState {
    pub fn label(self) -> &'static str {
        match self {
            AlarmState::Ok => "OK",
            AlarmState::Alarm => "ALARM",
            AlarmState::InsufficientData => "INSUFFICIENT_DATA",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alarm {
    pub name: String,
    pub state: AlarmState,
    pub reason: String,
    /// Human form of the condition, e.g. "> 1 % for 5 min".
    pub condition: String,
    /// SEV1..SEV4 (1 is worst).
    pub severity: Severity,
    /// Unix milliseconds of the last state change.
    pub since_ms: i64,
    /// Resource the alarm watches, when known.
    pub resource: Option<String>,
    /// "Namespace/MetricName" the alarm evaluates, when it is a metric alarm.
    pub metric: Option<String>,
    pub threshold: Option<f64>,
}

/// One current value of a metric, for at-a-glance figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gauge {
    pub label: String,
    pub value: f64,
    pub unit: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inventory {
    pub resources: Vec<Resource>,
    pub alarms: Vec<Alarm>,
    pub gauges: Vec<Gauge>,
    /// Unix milliseconds when the data was read.
    pub fetched_ms: i64,
    /// Parts that failed or are stale; empty when everything is fresh.
    pub notes: Vec<DataNote>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvSummary {
    pub name: String,
    pub tier: Tier,
    pub region: String,
    pub account_id: Option<String>,
    /// Simulated in-process from the seed documents: not real AWS.
    pub demo: bool,
    pub description: String,
    pub health: Health,
    pub services: u32,
    pub tasks_running: u32,
    pub tasks_desired: u32,
    pub alarms_firing: u32,
    pub resources: u32,
    /// Why the environment could not be read, when it could not.
    pub error: Option<String>,
    /// Parts of the data that failed or are stale (details on the environment page).
    pub data_notes: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvDetail {
    pub summary: EnvSummary,
    pub inventory: Option<Inventory>,
}

/// One ECS service of an environment, for its page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceView {
    pub summary: EnvSummary,
    pub service: Resource,
    /// Target groups and load balancers in front of it.
    pub upstream: Vec<Resource>,
    pub fetched_ms: i64,
    pub notes: Vec<DataNote>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntryView {
    pub seq: i64,
    pub ts_ms: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub outcome: String,
    pub detail: String,
    pub request_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPage {
    pub entries: Vec<AuditEntryView>,
    /// The head of the chain: sequence number and MAC (hex) of the newest entry.
    pub head_seq: i64,
    pub head_mac: String,
}

/// Health rule shared by cards, pages and (later) `status`: any SEV1/SEV2 alarm firing or an ECS
/// service with fewer than half its desired tasks is unhealthy; any other firing alarm or any
/// service short of desired is degraded.
pub fn health_of(inv: &Inventory) -> Health {
    let mut worst = Health::Healthy;
    for a in inv.alarms.iter().filter(|a| a.state == AlarmState::Alarm) {
        let h = if a.severity.is_major() {
            Health::Unhealthy
        } else {
            Health::Degraded
        };
        worst = worst.max(h);
    }
    for r in &inv.resources {
        if let Some(t) = r.tasks {
            if t.desired > 0 && t.running * 2 < t.desired {
                worst = worst.max(Health::Unhealthy);
            } else if t.running < t.desired {
                worst = worst.max(Health::Degraded);
            }
        }
        if r.health == Health::Unhealthy {
            worst = worst.max(Health::Degraded);
        }
    }
    worst
}

pub use time::format_ts;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responder_and_approver_read_but_admin_does_not_approve() {
        assert!(roles_allow(&[Role::Responder], Role::Viewer));
        assert!(roles_allow(&[Role::Approver], Role::Viewer));
        assert!(!roles_allow(&[Role::Admin], Role::Approver));
        assert!(!roles_allow(&[Role::Viewer], Role::Responder));
        assert!(roles_allow(&[Role::Viewer, Role::Admin], Role::Admin));
    }

    fn inv(alarms: Vec<(AlarmState, u8)>, tasks: Option<TaskCounts>) -> Inventory {
        Inventory {
            resources: tasks
                .map(|t| Resource {
                    kind: ResourceKind::EcsService,
                    name: "svc".into(),
                    id: "svc".into(),
                    status: "ACTIVE".into(),
                    health: Health::Healthy,
                    zones: vec![],
                    tasks: Some(t),
                    details: vec![],
                    links: vec![],
                    service: None,
                })
                .into_iter()
                .collect(),
            alarms: alarms
                .into_iter()
                .map(|(state, severity)| Alarm {
                    name: "a".into(),
                    state,
                    reason: String::new(),
                    condition: String::new(),
                    severity: Severity::new(severity).unwrap_or(Severity::SEV4),
                    since_ms: 0,
                    resource: None,
                    metric: None,
                    threshold: None,
                })
                .collect(),
            gauges: vec![],
            fetched_ms: 0,
            notes: vec![],
        }
    }

    #[test]
    fn health_follows_alarms_and_task_counts() {
        assert_eq!(health_of(&inv(vec![(AlarmState::Ok, 1)], None)), Health::Healthy);
        assert_eq!(health_of(&inv(vec![(AlarmState::Alarm, 3)], None)), Health::Degraded);
        assert_eq!(health_of(&inv(vec![(AlarmState::Alarm, 1)], None)), Health::Unhealthy);
        let short = TaskCounts {
            running: 3,
            desired: 4,
            pending: 1,
        };
        assert_eq!(health_of(&inv(vec![], Some(short))), Health::Degraded);
        let down = TaskCounts {
            running: 1,
            desired: 4,
            pending: 0,
        };
        assert_eq!(health_of(&inv(vec![], Some(down))), Health::Unhealthy);
    }
}

/// Time ranges of the metric charts, and the period each one uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TimeRange {
    H1,
    H6,
    H24,
    D7,
}

impl TimeRange {
    pub const ALL: [TimeRange; 4] = [TimeRange::H1, TimeRange::H6, TimeRange::H24, TimeRange::D7];

    pub fn label(self) -> &'static str {
        match self {
            TimeRange::H1 => "1h",
            TimeRange::H6 => "6h",
            TimeRange::H24 => "24h",
            TimeRange::D7 => "7d",
        }
    }

    pub fn parse(s: &str) -> Option<TimeRange> {
        TimeRange::ALL.into_iter().find(|r| r.label() == s)
    }

    pub fn seconds(self) -> i64 {
        match self {
            TimeRange::H1 => 3600,
            TimeRange::H6 => 6 * 3600,
            TimeRange::H24 => 24 * 3600,
            TimeRange::D7 => 7 * 24 * 3600,
        }
    }

    /// Period in seconds: about 60-170 points per chart, on CloudWatch's allowed periods.
    pub fn period(self) -> i32 {
        match self {
            TimeRange::H1 => 60,
            TimeRange::H6 => 300,
            TimeRange::H24 => 900,
            TimeRange::D7 => 3600,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    pub label: String,
    /// What the status check reads from it: lambda_errors, lambda_invocations, lambda_error_rate
    /// (%), api_5xx (count), api_5xx_rate (%).
    pub key: Option<String>,
    /// (unix ms, value), oldest first.
    pub points: Vec<(i64, f64)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chart {
    pub title: String,
    pub unit: String,
    pub series: Vec<Series>,
    /// The alarm threshold on this metric, drawn as a line.
    pub threshold: Option<f64>,
    /// Why there is no data ("not available from this endpoint", "no data points").
    pub note: Option<String>,
    /// Sums over the chart's whole range that a status check weighs (errors and invocations of
    /// every function, each function's): (key, label, value). Not drawn.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub totals: Vec<(String, String, f64)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricsView {
    pub summary: EnvSummary,
    pub range: TimeRange,
    pub charts: Vec<Chart>,
    pub alarms: Vec<Alarm>,
    pub fetched_ms: i64,
    pub notes: Vec<DataNote>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupPlanInfo {
    pub name: String,
    /// (rule, schedule expression, retention) per rule.
    pub rules: Vec<(String, String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupJobInfo {
    pub id: String,
    pub resource: String,
    /// CREATED, RUNNING, COMPLETED, FAILED, ABORTED, EXPIRED…
    pub state: String,
    pub created_ms: i64,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryPointInfo {
    pub resource: String,
    pub resource_type: String,
    /// None when the resource has no recovery point at all.
    pub last_ms: Option<i64>,
    /// Older than the RPO, or missing.
    pub late: bool,
}

/// A list the endpoint may not be able to give (moto has no backup jobs): None = not available.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackupsView {
    pub summary: EnvSummary,
    pub rpo_hours: Option<u32>,
    pub vaults: Vec<(String, i64)>,
    pub plans: Vec<BackupPlanInfo>,
    pub jobs: Option<Vec<BackupJobInfo>>,
    pub recovery_points: Option<Vec<RecoveryPointInfo>>,
    pub notes: Vec<DataNote>,
}

/// Levels of the status check, in order; the exit code of `ops-console status` is the level's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Healthy,
    Degraded,
    Unhealthy,
    /// Could not check at all.
    Unknown,
}

impl Level {
    pub fn exit_code(self) -> u8 {
        match self {
            Level::Healthy => 0,
            Level::Degraded => 1,
            Level::Unhealthy => 2,
            Level::Unknown => 3,
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Level::Healthy => "healthy",
            Level::Degraded => "degraded",
            Level::Unhealthy => "unhealthy",
            Level::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// Stable id: service_state, active_alarms, lambda_error_rate, api_5xx, ecs_running, backups.
    pub id: String,
    pub name: String,
    pub level: Level,
    /// False when the endpoint cannot give this data; such a check never raises the level.
    pub available: bool,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusReport {
    pub environment: String,
    pub demo: bool,
    pub level: Level,
    pub exit_code: u8,
    pub checked_at: String,
    pub checks: Vec<Check>,
}

/// An API token as listed (never the secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub created_by: String,
    pub created_ms: i64,
    pub expires_ms: i64,
    pub revoked_ms: Option<i64>,
    pub last_used_ms: Option<i64>,
}

/// A token just issued: the only time its secret is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenCreated {
    pub info: TokenInfo,
    pub token: String,
}
