//! `SdkCloud`: the `Cloud` interface read from AWS through the real SDK. One set of clients per
//! environment (region, endpoint, profile, read role), a cache per kind of data with its own TTL
//! and single flight, bounded concurrency, timeouts short enough for a page to answer within 5 s,
//! and every call attempt counted in /metrics.

pub mod activity;
pub mod alarms;
pub mod apigateway;
pub mod backup;
pub mod cache;
pub mod charts;
pub mod cloudformation;
pub mod cloudwatch;
pub mod codedeploy;
pub mod counting;
pub mod ecs;
pub mod elasticache;
pub mod elb;
pub mod eventbridge;
pub mod grants;
pub mod lambda;
pub mod logs;
pub mod operate;
mod parts;
pub mod rds;
pub mod scaling;
pub mod scope;
pub mod tagging;
pub mod trail;

use crate::model::{Alarm, AlarmState, Chart, DataNote, Inventory, Resource, ResourceKind, TimeRange};
use crate::ssr::cloud::{
    BackupsData, Cloud, CloudError, DenyWritten, InsightsRead, LogPlace, LogTarget, ServiceNow, SeverityRules,
    TempCredentials,
};
use crate::ssr::config::EnvironmentConfig;
use crate::ssr::prometheus::Metrics;
use async_trait::async_trait;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use cache::{Cache, Fetched};
use counting::CountCalls;
pub use parts::compose;
use parts::{part, take};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// Calls in flight per fan-out stage of one environment.
pub const CONCURRENCY: usize = 8;

/// Connect and per-attempt timeouts, and the budget of one operation with its retries: short,
/// because an endpoint that accepts connections and never answers must not hold a page for the
/// SDK's default minutes. Three attempts with backoff fit in `OPERATION_TIMEOUT`.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(1500);
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(1500);
pub const OPERATION_TIMEOUT: Duration = Duration::from_millis(3500);
/// No part of a page waits longer than this for AWS.
pub const PART_TIMEOUT: Duration = Duration::from_secs(4);
/// A read that goes on after the page stopped waiting (ECS, `parts::ecs_part`) ends by this.
pub const LONG_READ_TIMEOUT: Duration = Duration::from_secs(60);

/// The note (part `scope`) of an environment with a selector whose tagged resources cannot be
/// read: the status check and rollbacks refuse to guess from it.
pub const SCOPE_UNKNOWN: &str = "the tagged resources could not be read, so what is this environment's cannot be told: \
                                 everything in the account and region is listed, no alarm or backup is claimed, \
                                 and the status check and rollbacks wait until they can be read";

/// How long a page waits for a refresh of an inventory already read once (`Cloud::inventory`).
pub const PAGE_WAIT: Duration = Duration::from_millis(400);

/// The inventory waits for the current figures only until this long after it began.
pub const GAUGE_BUDGET: Duration = Duration::from_millis(4500);

/// How long each kind of data is served from the cache.
pub const TTL_ECS: Duration = Duration::from_secs(15);
pub const TTL_ELB: Duration = Duration::from_secs(30);
pub const TTL_RDS: Duration = Duration::from_secs(60);
pub const TTL_TAGGED: Duration = Duration::from_secs(300);
pub const TTL_ALARMS: Duration = Duration::from_secs(30);
pub const TTL_BACKUPS: Duration = Duration::from_secs(120);
pub const TTL_STACKS: Duration = Duration::from_secs(60);
pub const TTL_LAMBDA: Duration = Duration::from_secs(60);
pub const TTL_APIS: Duration = Duration::from_secs(300);
pub const TTL_RULES: Duration = Duration::from_secs(120);
pub const TTL_ELASTICACHE: Duration = Duration::from_secs(60);
pub const TTL_SCALING: Duration = Duration::from_secs(120);
pub const TTL_CODEDEPLOY: Duration = Duration::from_secs(30);
/// After a failed refresh, how long stale data is served before AWS is asked again.
pub const RETRY_AFTER: Duration = Duration::from_secs(10);

/// The first few messages of an error's source chain, each kept short (credential and connector
/// errors say what went wrong a level or two down).
fn source_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        let text: String = err.to_string().chars().take(120).collect();
        if !parts.iter().any(|p: &String| p.contains(&text)) {
            parts.push(text);
        }
        if parts.len() == 3 {
            break;
        }
        cur = err.source();
    }
    parts.join(": ")
}

/// A short, safe description of an SDK error for pages and logs: the HTTP status and AWS error
/// code and message for service errors, "timed out" or "connection failed" for transport errors
/// (never the raw response).
pub(crate) fn err_text<E>(what: &str, e: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let detail = match e {
        SdkError::ServiceError(se) => {
            let status = se.raw().status().as_u16();
            match (se.err().code(), se.err().message()) {
                (Some(c), Some(m)) => format!("HTTP {status} {c}: {m}"),
                (Some(c), None) => format!("HTTP {status} {c}"),
                _ => format!("HTTP {status} from the endpoint"),
            }
        }
        SdkError::TimeoutError(_) => "timed out".to_string(),
        SdkError::DispatchFailure(d) if d.is_timeout() => "timed out".to_string(),
        SdkError::DispatchFailure(d) if d.is_io() => "connection failed".to_string(),
        SdkError::ResponseError(_) => "the response could not be read".to_string(),
        other => source_chain(other),
    };
    format!("{what}: {detail}")
}

/// A resource row read through a service's own API.
pub(crate) fn row(
    kind: ResourceKind,
    name: &str,
    id: &str,
    status: &str,
    health: crate::model::Health,
    details: Vec<(String, String)>,
) -> Resource {
    Resource {
        kind,
        name: name.to_string(),
        id: id.to_string(),
        status: status.to_string(),
        health,
        zones: vec![],
        tasks: None,
        details,
        links: vec![],
        service: None,
    }
}

/// An RFC 3339 time, to the minute, for a detail cell.
pub(crate) fn when(t: &aws_smithy_types::DateTime) -> String {
    chrono::DateTime::from_timestamp_millis(secs_to_ms(t))
        .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

/// Whether tags read from the resource itself carry the selector's tag.
pub(crate) fn carries<'a>(
    selector: Option<&crate::ssr::config::Selector>,
    mut tags: impl Iterator<Item = (&'a str, &'a str)>,
) -> bool {
    selector.is_none_or(|s| tags.any(|(k, v)| k == s.tag_key && v == s.tag_value))
}

pub(crate) fn secs_to_ms(t: &aws_smithy_types::DateTime) -> i64 {
    t.to_millis().unwrap_or(0)
}

/// Per-environment SDK configuration: region, optional endpoint (emulators), optional profile,
/// optional read role assumed with STS; credentials otherwise from the standard chain.
pub async fn sdk_config(env: &EnvironmentConfig) -> SdkConfig {
    sdk_config_as(env, env.read_role_arn.as_deref(), "ops-console-read").await
}

/// The same, acting as `role` (assumed with STS from the base credentials) when given.
pub async fn sdk_config_as(env: &EnvironmentConfig, role: Option<&str>, session_name: &str) -> SdkConfig {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build();
    let retry = RetryConfig::standard()
        .with_max_attempts(3)
        .with_initial_backoff(Duration::from_millis(100));
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(env.region.clone()))
        .timeout_config(timeouts)
        .retry_config(retry);
    if let Some(p) = &env.profile {
        loader = loader.profile_name(p);
    }
    if let Some(u) = &env.endpoint_url {
        loader = loader.endpoint_url(u);
    }
    let base = loader.load().await;
    match role {
        None => base,
        Some(role) => {
            let provider = aws_config::sts::AssumeRoleProvider::builder(role)
                .session_name(session_name)
                .configure(&base)
                .build()
                .await;
            base.into_builder()
                .credentials_provider(aws_sdk_ecs::config::SharedCredentialsProvider::new(provider))
                .build()
        }
    }
}

pub struct Clients {
    pub ecs: aws_sdk_ecs::Client,
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    pub rds: aws_sdk_rds::Client,
    pub tagging: aws_sdk_resourcegroupstagging::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub backup: aws_sdk_backup::Client,
    pub cloudformation: aws_sdk_cloudformation::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub apigateway: aws_sdk_apigateway::Client,
    pub apigatewayv2: aws_sdk_apigatewayv2::Client,
    pub eventbridge: aws_sdk_eventbridge::Client,
    pub elasticache: aws_sdk_elasticache::Client,
    pub scaling: aws_sdk_applicationautoscaling::Client,
    pub codedeploy: aws_sdk_codedeploy::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub trail: aws_sdk_cloudtrail::Client,
}

impl Clients {
    pub fn new(config: &SdkConfig, counter: &CountCalls) -> Clients {
        macro_rules! client {
            ($krate:ident) => {
                $krate::Client::from_conf(
                    $krate::config::Builder::from(config)
                        .interceptor(counter.clone())
                        .build(),
                )
            };
        }
        Clients {
            ecs: client!(aws_sdk_ecs),
            elb: client!(aws_sdk_elasticloadbalancingv2),
            rds: client!(aws_sdk_rds),
            tagging: client!(aws_sdk_resourcegroupstagging),
            cloudwatch: client!(aws_sdk_cloudwatch),
            backup: client!(aws_sdk_backup),
            cloudformation: client!(aws_sdk_cloudformation),
            lambda: client!(aws_sdk_lambda),
            apigateway: client!(aws_sdk_apigateway),
            apigatewayv2: client!(aws_sdk_apigatewayv2),
            eventbridge: client!(aws_sdk_eventbridge),
            elasticache: client!(aws_sdk_elasticache),
            scaling: client!(aws_sdk_applicationautoscaling),
            codedeploy: client!(aws_sdk_codedeploy),
            logs: client!(aws_sdk_cloudwatchlogs),
            trail: client!(aws_sdk_cloudtrail),
        }
    }
}

/// Charts of one range, their notes, and the current figures from them.
type ChartsRead = (Vec<Chart>, Vec<DataNote>, Vec<crate::model::Gauge>);

struct EnvReader {
    config: EnvironmentConfig,
    clients: tokio::sync::OnceCell<Clients>,
    /// ECS as the operator role (rollback), built on first use.
    operator: tokio::sync::OnceCell<aws_sdk_ecs::Client>,
    /// STS and IAM as the grant role (or the console's own identity), built on first use.
    granter: tokio::sync::OnceCell<(aws_sdk_sts::Client, aws_sdk_iam::Client)>,
    resources: Cache<Vec<Resource>>,
    arns: Cache<Vec<String>>,
    alarms: Cache<Vec<cloudwatch::ReadAlarm>>,
    charts: Cache<ChartsRead>,
    backups: Cache<backup::ReadBackups>,
    scaling: Cache<Vec<(String, String)>>,
    codedeploy: Cache<Vec<(String, String, String)>>,
    taskdefs: ecs::TaskDefCache,
    concurrency: lambda::ConcurrencyCache,
    /// Whether a rule carries the selector's tag, by rule ARN.
    rule_tags: cache::Remember<bool>,
    /// The last inventory read in full, served while a refresh takes longer than `PAGE_WAIT`.
    last_inventory: std::sync::Mutex<Option<Inventory>>,
    /// CloudTrail reads by window (LookupEvents allows 2 calls a second per account and region).
    trail: cache::Remember<activity::TrailRead>,
    /// Log windows, for a few seconds: every open log page refreshes.
    logs: cache::Remember<(Vec<crate::model::LogLine>, bool)>,
}

/// The AWS reader of every live environment; cloning it is cheap (one `Arc`), so that a read can
/// run as a task of its own and outlive the page that started it.
#[derive(Clone)]
pub struct SdkCloud(Arc<SdkShared>);

pub struct SdkShared {
    envs: HashMap<String, Arc<EnvReader>>,
    metrics: Arc<Metrics>,
    counter: CountCalls,
    severity: Arc<SeverityRules>,
}

impl std::ops::Deref for SdkCloud {
    type Target = SdkShared;
    fn deref(&self) -> &SdkShared {
        &self.0
    }
}

impl SdkCloud {
    pub fn new(envs: &[EnvironmentConfig], metrics: Arc<Metrics>, severity: Arc<SeverityRules>) -> SdkCloud {
        let envs = envs
            .iter()
            .map(|e| {
                let reader = EnvReader {
                    config: e.clone(),
                    clients: tokio::sync::OnceCell::new(),
                    operator: tokio::sync::OnceCell::new(),
                    granter: tokio::sync::OnceCell::new(),
                    resources: Cache::new(RETRY_AFTER),
                    arns: Cache::new(RETRY_AFTER),
                    alarms: Cache::new(RETRY_AFTER),
                    charts: Cache::new(RETRY_AFTER),
                    backups: Cache::new(RETRY_AFTER),
                    scaling: Cache::new(RETRY_AFTER),
                    codedeploy: Cache::new(RETRY_AFTER),
                    taskdefs: ecs::TaskDefCache::default(),
                    concurrency: lambda::ConcurrencyCache::new(lambda::CONCURRENCY_TTL),
                    rule_tags: cache::Remember::new(eventbridge::TAGS_TTL),
                    last_inventory: std::sync::Mutex::new(None),
                    trail: cache::Remember::new(activity::TTL_TRAIL),
                    logs: cache::Remember::new(activity::TTL_LOGS),
                };
                (e.name.clone(), Arc::new(reader))
            })
            .collect();
        SdkCloud(Arc::new(SdkShared {
            envs,
            counter: CountCalls::new(metrics.clone()),
            metrics,
            severity,
        }))
    }

    async fn granter(&self, env: &str) -> Result<&(aws_sdk_sts::Client, aws_sdk_iam::Client), CloudError> {
        let reader = self
            .envs
            .get(env)
            .ok_or_else(|| CloudError::UnknownEnvironment(env.to_string()))?;
        Ok(reader
            .granter
            .get_or_init(|| async {
                let role = reader.config.grant_role_arn.as_deref();
                let config = sdk_config_as(&reader.config, role, "ops-console-grant").await;
                (
                    aws_sdk_sts::Client::from_conf(
                        aws_sdk_sts::config::Builder::from(&config)
                            .interceptor(self.counter.clone())
                            .build(),
                    ),
                    aws_sdk_iam::Client::from_conf(
                        aws_sdk_iam::config::Builder::from(&config)
                            .interceptor(self.counter.clone())
                            .build(),
                    ),
                )
            })
            .await)
    }

    async fn reader(&self, env: &str) -> Result<(&EnvReader, &Clients), CloudError> {
        let reader = self
            .envs
            .get(env)
            .ok_or_else(|| CloudError::UnknownEnvironment(env.to_string()))?;
        let clients = reader
            .clients
            .get_or_init(|| async { Clients::new(&sdk_config(&reader.config).await, &self.counter) })
            .await;
        Ok((reader, clients))
    }
}

#[async_trait]
impl Cloud for SdkCloud {
    async fn log_place(&self, env: &str, target: &LogTarget<'_>) -> Result<LogPlace, CloudError> {
        self.place(env, target).await
    }

    async fn log_lines(
        &self,
        env: &str,
        place: &LogPlace,
        start_ms: i64,
        end_ms: i64,
        pattern: &str,
        limit: usize,
    ) -> Result<(Vec<crate::model::LogLine>, bool), CloudError> {
        self.lines(env, place, start_ms, end_ms, pattern, limit).await
    }

    async fn insights_start(
        &self,
        env: &str,
        place: &LogPlace,
        start_ms: i64,
        end_ms: i64,
        query: &str,
    ) -> Result<String, CloudError> {
        let (_, clients) = self.reader(env).await?;
        logs::start_query(&clients.logs, place, start_ms, end_ms, query)
            .await
            .map_err(|m| aws_error("logs", "StartQuery", m))
    }

    async fn insights_results(&self, env: &str, id: &str) -> Result<InsightsRead, CloudError> {
        let (_, clients) = self.reader(env).await?;
        logs::query_results(&clients.logs, id)
            .await
            .map_err(|m| aws_error("logs", "GetQueryResults", m))
    }

    async fn insights_stop(&self, env: &str, id: &str) -> Result<(), CloudError> {
        let (_, clients) = self.reader(env).await?;
        logs::stop_query(&clients.logs, id)
            .await
            .map_err(|m| aws_error("logs", "StopQuery", m))
    }

    async fn trail_changes(
        &self,
        env: &str,
        inv: &Inventory,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<(Vec<crate::model::Change>, bool), CloudError> {
        let (trail, stacks) = tokio::join!(
            self.trail_read(env, Some(inv), None, from_ms, to_ms),
            self.stack_events(env, inv, from_ms, to_ms)
        );
        let (mut changes, more) = trail?;
        changes.extend(stacks);
        Ok((changes, more))
    }

    async fn session_events(
        &self,
        env: &str,
        _session: &str,
        access_key_id: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<(Vec<crate::model::Change>, bool), CloudError> {
        self.trail_read(env, None, Some(access_key_id), from_ms, to_ms).await
    }

    /// The inventory, read as a task of its own. Once one has been read in full, a page waits at
    /// most `PAGE_WAIT` for the next: a slower refresh (an AWS endpoint answering in seconds) goes
    /// on for the next view while this one is shown the last inventory, with the time it was read.
    async fn inventory(&self, env: &str, now_ms: i64) -> Result<Inventory, CloudError> {
        let reader = self
            .envs
            .get(env)
            .ok_or_else(|| CloudError::UnknownEnvironment(env.to_string()))?
            .clone();
        let (me, name, keep) = (self.clone(), env.to_string(), reader.clone());
        let mut task = tokio::spawn(async move {
            let read = me.read_inventory(&name, now_ms, GAUGE_BUDGET).await;
            if let Ok(inv) = &read {
                // Kept at most once a second: every view composes an inventory of its own.
                let mut last = keep.last_inventory.lock().unwrap_or_else(|p| p.into_inner());
                // (Either way from the last one kept: a clock stepped back does not freeze it.)
                if last
                    .as_ref()
                    .is_none_or(|l| (inv.fetched_ms - l.fetched_ms).abs() >= 1000)
                {
                    *last = Some(inv.clone());
                }
            }
            read
        });
        let has_last = reader
            .last_inventory
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some();
        let done = if has_last {
            match tokio::time::timeout(PAGE_WAIT, &mut task).await {
                Ok(done) => done,
                Err(_) => {
                    let last = reader.last_inventory.lock().unwrap_or_else(|p| p.into_inner()).clone();
                    if let Some(last) = last {
                        return Ok(last);
                    }
                    task.await
                }
            }
        } else {
            task.await
        };
        done.map_err(|e| CloudError::NotAvailable(format!("the inventory read stopped: {e}")))?
    }

    async fn metrics(
        &self,
        env: &str,
        inv: &Inventory,
        range: TimeRange,
        now_ms: i64,
    ) -> Result<(Vec<Chart>, Vec<DataNote>), CloudError> {
        let (charts, notes, _) = self.charts(env, inv, range, now_ms).await?;
        Ok((charts, notes))
    }

    async fn backups(&self, env: &str, rpo_hours: Option<u32>, now_ms: i64) -> Result<BackupsData, CloudError> {
        let (reader, clients) = self.reader(env).await?;
        let read = backup::read(&clients.backup, rpo_hours, now_ms);
        let (fetched, inv) = tokio::join!(
            part(&reader.backups, "backups", TTL_BACKUPS, &self.metrics, read),
            self.read_inventory(env, now_ms, Duration::ZERO)
        );
        let inv = inv?;
        let scope = self.scope_of(env, &inv).await?;
        let mut notes = Vec::new();
        let read = take("backups", fetched, &mut notes);
        let mut data = read.scoped(scope.as_ref());
        data.notes.append(&mut notes);
        // Whose a backup is cannot be told: the page says why it claims none.
        if let Some(n) = inv.notes.iter().find(|n| n.part == "scope") {
            data.notes.push(n.clone());
            return Ok(data);
        }
        // RDS automated backups count as recovery points against the same RPO.
        let rpo_ms = i64::from(rpo_hours.unwrap_or(24)) * 3_600_000;
        let rds: Vec<crate::model::RecoveryPointInfo> = inv
            .resources
            .iter()
            .filter(|r| r.details.iter().any(|(k, _)| k == rds::RETENTION))
            .map(|r| {
                let last = rds::restorable_ms(&r.details);
                crate::model::RecoveryPointInfo {
                    resource: r.id.clone(),
                    resource_type: format!("{} (automated backups)", r.kind.label()),
                    last_ms: last,
                    late: last.is_none_or(|t| now_ms - t > rpo_ms),
                }
            })
            .collect();
        if !rds.is_empty() {
            data.recovery_points.get_or_insert_with(Vec::new).extend(rds);
        }
        Ok(data)
    }

    async fn alarms_now(&self, env: &str) -> Result<Vec<Alarm>, CloudError> {
        let (_, clients) = self.reader(env).await?;
        let now = crate::ssr::clock::now();
        let read = async {
            match tokio::time::timeout(PART_TIMEOUT, cloudwatch::alarms(&clients.cloudwatch, &self.severity)).await {
                Ok(r) => r,
                Err(_) => Err(format!("no answer within {} s", PART_TIMEOUT.as_secs())),
            }
        };
        let (read, inv) = tokio::join!(read, self.read_inventory(env, now, Duration::ZERO));
        let read = read.map_err(|m| aws_error("cloudwatch", "DescribeAlarms", m))?;
        let inv = inv?;
        // The poller must not take "none claimed" for "none firing".
        if inv.notes.iter().any(|n| n.part == "scope") {
            return Err(CloudError::NotAvailable(SCOPE_UNKNOWN.into()));
        }
        let scope = self.scope_of(env, &inv).await?;
        Ok(cloudwatch::scoped(&read, scope.as_ref()))
    }

    async fn alarm_history(&self, env: &str, alarm: &str, since_ms: i64) -> Result<Vec<(i64, AlarmState)>, CloudError> {
        let (_, clients) = self.reader(env).await?;
        operate::alarm_history(&clients.cloudwatch, alarm, since_ms)
            .await
            .map_err(CloudError::NotAvailable)
    }

    async fn service_now(&self, env: &str, cluster: &str, service: &str) -> Result<ServiceNow, CloudError> {
        let (_, clients) = self.reader(env).await?;
        operate::service_now(&clients.ecs, cluster, service)
            .await
            .map_err(|m| aws_error("ecs", "DescribeServices", m))
    }

    fn rollback_off(&self, env: &str) -> Option<String> {
        match self.envs.get(env) {
            None => Some(format!("{env} is not a configured environment")),
            Some(r) if r.config.operator_role_arn.is_none() => Some(format!(
                "no operator role is configured for {env} (operator_role_arn), so the console cannot change it"
            )),
            Some(_) => None,
        }
    }

    async fn task_definition_arn(&self, env: &str, task_definition: &str) -> Result<String, CloudError> {
        let (_, clients) = self.reader(env).await?;
        operate::task_definition_arn(&clients.ecs, task_definition)
            .await
            .map_err(|m| aws_error("ecs", "DescribeTaskDefinition", m))
    }

    async fn assume_role(
        &self,
        env: &str,
        role_arn: &str,
        session_name: &str,
        duration_s: i32,
        source_identity: &str,
        tags: &[(String, String)],
    ) -> Result<TempCredentials, CloudError> {
        let (sts, _) = self.granter(env).await?;
        grants::assume_role(sts, role_arn, session_name, duration_s, source_identity, tags)
            .await
            .map_err(|m| aws_error("sts", "AssumeRole", m))
    }

    async fn deny_session(
        &self,
        env: &str,
        role_arn: &str,
        session_name: &str,
        issued_before_ms: i64,
    ) -> Result<DenyWritten, CloudError> {
        let (_, iam) = self.granter(env).await?;
        let now = crate::ssr::clock::now();
        grants::deny_session(iam, role_arn, session_name, issued_before_ms, now)
            .await
            .map_err(|m| aws_error("iam", "PutRolePolicy", m))
    }

    async fn rollback(
        &self,
        env: &str,
        cluster: &str,
        service: &str,
        task_definition_arn: &str,
    ) -> Result<(), CloudError> {
        if let Some(why) = self.rollback_off(env) {
            return Err(CloudError::NotAvailable(why));
        }
        let reader = self
            .envs
            .get(env)
            .ok_or_else(|| CloudError::UnknownEnvironment(env.to_string()))?;
        let client = reader
            .operator
            .get_or_init(|| async {
                let role = reader.config.operator_role_arn.as_deref();
                let config = sdk_config_as(&reader.config, role, "ops-console-rollback").await;
                aws_sdk_ecs::Client::from_conf(
                    aws_sdk_ecs::config::Builder::from(&config)
                        .interceptor(self.counter.clone())
                        .build(),
                )
            })
            .await;
        // The last look before the write, as the role that makes it: ECS refuses UpdateService
        // with a new task definition for a service it does not deploy itself.
        let now = operate::service_now(client, cluster, service)
            .await
            .map_err(|m| aws_error("ecs", "DescribeServices", m))?;
        if now.controller != crate::model::DeploymentController::Ecs {
            return Err(CloudError::NotAvailable(format!(
                "{cluster}/{service} is deployed by {}, not by ECS: not sent to UpdateService",
                now.controller.label()
            )));
        }
        operate::update_service(client, cluster, service, task_definition_arn)
            .await
            .map_err(|m| aws_error("ecs", "UpdateService", m))
    }
}

pub(crate) fn aws_error(service: &str, operation: &str, message: String) -> CloudError {
    CloudError::Aws {
        service: service.into(),
        operation: operation.into(),
        message,
    }
}
