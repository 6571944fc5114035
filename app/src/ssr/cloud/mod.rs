//! The `Cloud` interface: what the console reads from an environment, and its two
//! implementations: `SdkCloud` (aws/) reads AWS through the SDK; `DemoCloud` (demo/) simulates
//! the demo systems of docs/DEMO.md in-process.

use crate::model::{Alarm, AlarmState, DeploymentInfo, ServiceEvent, Severity};
use crate::model::{BackupJobInfo, BackupPlanInfo, Chart, DataNote, Inventory, RecoveryPointInfo, TimeRange};
use async_trait::async_trait;

pub mod aws;
pub mod demo;

/// What an environment's backups look like; `None` lists are ones the endpoint cannot give.
/// `family:revision` of a task definition ARN (an already short name is returned as it is): how
/// pages, timelines and rollbacks name a revision, whichever cloud it came from.
pub fn short_taskdef(arn: &str) -> String {
    arn.rsplit('/').next().unwrap_or(arn).to_string()
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackupsData {
    /// (vault, recovery points in it)
    pub vaults: Vec<(String, i64)>,
    pub plans: Vec<BackupPlanInfo>,
    pub jobs: Option<Vec<BackupJobInfo>>,
    pub recovery_points: Option<Vec<RecoveryPointInfo>>,
    pub notes: Vec<DataNote>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CloudError {
    #[error("{0} is not an environment this cloud knows")]
    UnknownEnvironment(String),
    #[error("AWS {service} {operation}: {message}")]
    Aws {
        service: String,
        operation: String,
        message: String,
    },
    #[error("{0}")]
    NotAvailable(String),
}

/// The margin a revocation's cut-off is set ahead of the console's clock, so that a token AWS
/// issued just before the revocation (by AWS's clock, which may run ahead) is still denied.
pub const REVOCATION_SKEW_MS: i64 = 60_000;

/// What a revocation wrote to the role's deny policy, as read back after the write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DenyWritten {
    /// The characters of all the role's inline policies together after the write.
    pub policy_chars: usize,
    /// True when the policy was full and one deny of every session of the role issued before
    /// `cutoff_ms` took the place of the per-session statements.
    pub role_wide: bool,
    /// Tokens issued before this instant are denied.
    pub cutoff_ms: i64,
}

/// Temporary credentials from STS AssumeRole: handed to the person once, never stored.
#[derive(Clone, PartialEq, Eq)]
pub struct TempCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    pub expires_ms: i64,
}

impl std::fmt::Debug for TempCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret or the token.
        f.debug_struct("TempCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("expires_ms", &self.expires_ms)
            .finish()
    }
}

/// One ECS service as it is now (rollback progress).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceNow {
    /// Full ARN of the service's task definition.
    pub task_definition: String,
    pub deployments: Vec<DeploymentInfo>,
    pub running: u32,
    pub desired: u32,
    /// Newest first.
    pub events: Vec<ServiceEvent>,
    /// Who deploys it; only an ECS-controlled service can be rolled back with UpdateService.
    pub controller: crate::model::DeploymentController,
}

impl ServiceNow {
    /// Stable as `aws ecs wait services-stable` means it: one deployment, on `target`, with
    /// running = desired.
    pub fn stable_on(&self, target_arn: &str) -> bool {
        let short = short_taskdef(target_arn);
        self.deployments.len() == 1
            && self.deployments.iter().all(|d| d.task_definition == short)
            && self.running == self.desired
            && self.task_definition == target_arn
    }
}

/// Where a source's log lines are: one group, and the streams within it (a prefix, or names).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogPlace {
    pub group: String,
    pub prefix: Option<String>,
    pub streams: Vec<String>,
}

impl LogPlace {
    pub fn group(group: String) -> LogPlace {
        LogPlace {
            group,
            ..LogPlace::default()
        }
    }

    /// Whether a line of `stream` is one of this place's.
    pub fn holds(&self, stream: &str) -> bool {
        if !self.streams.is_empty() {
            return self.streams.iter().any(|s| s == stream);
        }
        self.prefix.as_deref().is_none_or(|p| stream.starts_with(p))
    }

    /// The streams read, for the page's heading.
    pub fn streams_text(&self) -> Option<String> {
        match (&self.prefix, self.streams.as_slice()) {
            (_, [one]) => Some(one.clone()),
            (_, [first, rest @ ..]) => Some(format!("{first} and {} more", rest.len())),
            (Some(p), []) => Some(format!("{p}…")),
            (None, []) => None,
        }
    }
}

/// The resource logs are read for: an inventory row of the environment, and for one task, that
/// task (running or stopped) of the service.
pub struct LogTarget<'a> {
    pub resource: &'a crate::model::Resource,
    pub task: Option<&'a crate::model::TaskInfo>,
}

/// What a Logs Insights query found so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InsightsRead {
    pub status: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
    pub bytes_scanned: f64,
    pub records_scanned: f64,
    pub records_matched: f64,
}

#[async_trait]
pub trait Cloud: Send + Sync {
    /// Where a resource of the environment writes its logs (NotAvailable: it writes none the
    /// console can find, and why).
    async fn log_place(&self, env: &str, target: &LogTarget<'_>) -> Result<LogPlace, CloudError>;

    /// The lines of `place` in [start, end) that match `pattern` (CloudWatch Logs filter syntax),
    /// newest first, at most `limit`; true when more matched than were read.
    async fn log_lines(
        &self,
        env: &str,
        place: &LogPlace,
        start_ms: i64,
        end_ms: i64,
        pattern: &str,
        limit: usize,
    ) -> Result<(Vec<crate::model::LogLine>, bool), CloudError>;

    /// Starts a Logs Insights query over `place`'s group: its id.
    async fn insights_start(
        &self,
        env: &str,
        place: &LogPlace,
        start_ms: i64,
        end_ms: i64,
        query: &str,
    ) -> Result<String, CloudError>;

    async fn insights_results(&self, env: &str, id: &str) -> Result<InsightsRead, CloudError>;

    async fn insights_stop(&self, env: &str, id: &str) -> Result<(), CloudError>;

    /// Management write events on the environment's resources in [from, to), newest first, and
    /// whether the bound left older ones out (CloudTrail LookupEvents).
    async fn trail_changes(
        &self,
        env: &str,
        inv: &Inventory,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<(Vec<crate::model::Change>, bool), CloudError>;

    /// Every event made with one grant's credentials in [from, to), reads included: looked up by
    /// `access_key_id`; `session` is the role session's name (the demo's events name it).
    async fn session_events(
        &self,
        env: &str,
        session: &str,
        access_key_id: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<(Vec<crate::model::Change>, bool), CloudError>;

    /// Everything the console shows of one environment, read now.
    async fn inventory(&self, env: &str, now_ms: i64) -> Result<Inventory, CloudError>;

    /// Charts of the environment's key metrics over `range`, for the resources in `inv`; the
    /// notes say which could not be read.
    async fn metrics(
        &self,
        env: &str,
        inv: &Inventory,
        range: TimeRange,
        now_ms: i64,
    ) -> Result<(Vec<Chart>, Vec<DataNote>), CloudError>;

    /// Vaults, plans, recent jobs and the last recovery point per protected resource, judged
    /// against `rpo_hours`.
    async fn backups(&self, env: &str, rpo_hours: Option<u32>, now_ms: i64) -> Result<BackupsData, CloudError>;

    /// The alarms read now, past every cache (the alarm poller).
    async fn alarms_now(&self, env: &str) -> Result<Vec<Alarm>, CloudError>;

    /// State changes of one alarm after `since_ms`, oldest first (DescribeAlarmHistory); NotAvailable
    /// where the endpoint lacks the call.
    async fn alarm_history(&self, env: &str, alarm: &str, since_ms: i64) -> Result<Vec<(i64, AlarmState)>, CloudError>;

    /// One ECS service read now.
    async fn service_now(&self, env: &str, cluster: &str, service: &str) -> Result<ServiceNow, CloudError>;

    /// Why this environment cannot roll back (None: it can).
    fn rollback_off(&self, env: &str) -> Option<String>;

    /// The ARN of a task definition ("family:revision"), which must exist.
    async fn task_definition_arn(&self, env: &str, task_definition: &str) -> Result<String, CloudError>;

    /// STS AssumeRole of an access profile's role for a grant: `session_name` names the requester
    /// and the request, `source_identity` and the session tags name the requester.
    #[allow(clippy::too_many_arguments)]
    async fn assume_role(
        &self,
        env: &str,
        role_arn: &str,
        session_name: &str,
        duration_s: i32,
        source_identity: &str,
        tags: &[(String, String)],
    ) -> Result<TempCredentials, CloudError>;

    /// Stops a grant's credentials early: an inline deny on the role for that role session only,
    /// for tokens issued before `issued_before_ms` (or, when the role's inline policies are full,
    /// for every session of the role issued before now); statements whose tokens have all
    /// expired are pruned. The policy is read back after the write: Err unless it holds the
    /// new deny. The caller serialises the revocations of one role (`access::grants`).
    async fn deny_session(
        &self,
        env: &str,
        role_arn: &str,
        session_name: &str,
        issued_before_ms: i64,
    ) -> Result<DenyWritten, CloudError>;

    /// UpdateService to `task_definition_arn`, acting as the environment's operator role.
    async fn rollback(
        &self,
        env: &str,
        cluster: &str,
        service: &str,
        task_definition_arn: &str,
    ) -> Result<(), CloudError>;
}

/// Severity of an alarm from its name: the configured `[[severity]]` rules first (first match
/// wins), then defaults that follow the alert table of the demo's TaskFlow system (docs/DEMO.md).
pub struct SeverityRules {
    rules: Vec<(regex::Regex, u8)>,
}

impl SeverityRules {
    pub const DEFAULTS: [(&'static str, u8); 4] = [
        // Critical in TaskFlow's table: error rate, service down; 5xx from Curriculum Alignment.
        ("(?i)service-down|5xx|error-rate", 1),
        // High: latency; Lambda errors and availability (Homebrew Bottles Sync, Curriculum Alignment).
        ("(?i)latency|p95|p99|errors|availability", 2),
        // Warning: resources, certificates, durations, backups.
        ("(?i)cpu|memory|connections|disk|ssl|duration|backup", 3),
        (".*", 4),
    ];

    /// `configured` patterns were validated with the config; one that fails here is skipped.
    pub fn new(configured: &[(String, u8)]) -> SeverityRules {
        let defaults = SeverityRules::DEFAULTS.iter().map(|(p, s)| (p.to_string(), *s));
        let rules = configured
            .iter()
            .cloned()
            .chain(defaults)
            .filter_map(|(p, s)| regex::Regex::new(&p).ok().map(|r| (r, s)))
            .collect();
        SeverityRules { rules }
    }

    pub fn severity(&self, alarm_name: &str) -> Severity {
        self.rules
            .iter()
            .find(|(r, _)| r.is_match(alarm_name))
            .and_then(|(_, s)| Severity::new(*s))
            .unwrap_or(Severity::SEV4)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_rules_win_then_defaults_follow_the_alert_table() {
        let s = SeverityRules::new(&[("(?i)cpu".to_string(), 2)]);
        assert_eq!(s.severity("taskflow-production-cpu-high"), 2);
        assert_eq!(s.severity("taskflow-production-error-rate"), 1);
        assert_eq!(s.severity("taskflow-production-p95-latency"), 2);
        assert_eq!(s.severity("taskflow-production-ssl-expiry"), 3);
        assert_eq!(s.severity("homebrew-bottles-sync-prod-cost"), 4);
    }
}
