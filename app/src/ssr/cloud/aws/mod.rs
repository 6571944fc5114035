//! `SdkCloud`: the `Cloud` interface read from AWS through the real SDK. One set of clients per
//! environment (region, endpoint, profile, read role), a cache per kind of data with its own TTL
//! and single flight, bounded concurrency, timeouts short enough for a page to answer within 5 s,
//! and every call attempt counted in /metrics.

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
pub mod operate;
pub mod rds;
pub mod scaling;
pub mod scope;
pub mod tagging;

use crate::model::{Alarm, AlarmState, Chart, DataNote, Inventory, Resource, ResourceKind, TimeRange};
use crate::ssr::cloud::{BackupsData, Cloud, CloudError, DenyWritten, ServiceNow, SeverityRules, TempCredentials};
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

/// The note (part `scope`) of an environment with a selector whose tagged resources cannot be
/// read: the status check and rollbacks refuse to guess from it.
pub const SCOPE_UNKNOWN: &str = "the tagged resources could not be read, so what is this environment's cannot be told: \
                                 everything in the account and region is listed, no alarm or backup is claimed, \
                                 and the status check and rollbacks wait until they can be read";

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
}

pub struct SdkCloud {
    envs: HashMap<String, Arc<EnvReader>>,
    metrics: Arc<Metrics>,
    counter: CountCalls,
    severity: Arc<SeverityRules>,
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
                };
                (e.name.clone(), Arc::new(reader))
            })
            .collect();
        SdkCloud {
            envs,
            counter: CountCalls::new(metrics.clone()),
            metrics,
            severity,
        }
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

impl SdkCloud {
    /// The charts of a range (cached for one period), their notes, and the current figures.
    async fn charts(
        &self,
        env: &str,
        inv: &Inventory,
        range: TimeRange,
        now_ms: i64,
    ) -> Result<(Vec<Chart>, Vec<DataNote>, Vec<crate::model::Gauge>), CloudError> {
        let fetched = self.spawn_charts(env, inv, range, now_ms).await?.await;
        let fetched = fetched.unwrap_or_else(|e| Fetched::Failed(format!("the metrics read stopped: {e}")));
        let mut notes = Vec::new();
        let (charts, mut inner, gauges) = take("metrics", fetched, &mut notes);
        notes.append(&mut inner);
        Ok((charts, notes, gauges))
    }

    /// The chart read as a task of its own: a caller that stops waiting (the inventory's budget)
    /// leaves it to finish and fill the cache for the next view, instead of throwing it away.
    async fn spawn_charts(
        &self,
        env: &str,
        inv: &Inventory,
        range: TimeRange,
        now_ms: i64,
    ) -> Result<tokio::task::JoinHandle<Fetched<ChartsRead>>, CloudError> {
        self.reader(env).await?;
        let reader = self
            .envs
            .get(env)
            .ok_or_else(|| CloudError::UnknownEnvironment(env.to_string()))?
            .clone();
        let metrics = self.metrics.clone();
        let period = range.period();
        let (specs, queries) = cloudwatch::plan(&inv.resources, period);
        let alarms = inv.alarms.clone();
        let ttl = Duration::from_secs(u64::try_from(period).unwrap_or(60));
        Ok(tokio::spawn(async move {
            let Some(clients) = reader.clients.get() else {
                return Fetched::Failed("the environment's clients are not ready".into());
            };
            let fetch = async {
                let end = now_ms - now_ms.rem_euclid(i64::from(period) * 1000);
                let start = end - range.seconds() * 1000;
                let (values, notes) = cloudwatch::fetch(&clients.cloudwatch, &queries, period, start, end).await;
                let failed_percentiles = notes.iter().any(|n| n.part == "metrics (percentiles)");
                let failed_all = notes.iter().any(|n| n.part == "metrics");
                let charts = cloudwatch::assemble(&specs, &queries, &values, failed_percentiles, failed_all, &alarms);
                let gauges = cloudwatch::gauges(&specs, &charts);
                Ok((charts, notes, gauges))
            };
            part(&reader.charts, range.label(), ttl, &metrics, fetch).await
        }))
    }

    /// Services deployed by CodeDeploy get their deployment group and last deployment (read only
    /// when there is such a service).
    async fn with_codedeploy(
        &self,
        env: &str,
        resources: &mut [Resource],
        notes: &mut Vec<DataNote>,
        budget: Duration,
    ) {
        let wanted: Vec<(String, String)> = resources
            .iter()
            .filter_map(|r| {
                let s = r.service.as_ref()?;
                (s.controller == crate::model::DeploymentController::CodeDeploy)
                    .then(|| (s.cluster.clone(), r.name.clone()))
            })
            .collect();
        let Some(reader) = self.envs.get(env).cloned().filter(|_| !wanted.is_empty()) else {
            return;
        };
        let metrics = self.metrics.clone();
        // A task of its own, so that running out of the page's budget leaves it to fill the cache.
        let task = tokio::spawn(async move {
            let Some(clients) = reader.clients.get() else {
                return Fetched::Failed("the environment's clients are not ready".into());
            };
            let read = codedeploy::read(&clients.codedeploy, &wanted);
            part(&reader.codedeploy, "codedeploy", TTL_CODEDEPLOY, &metrics, read).await
        });
        let fetched = match tokio::time::timeout(budget, task).await {
            Ok(Ok(f)) => f,
            Ok(Err(e)) => Fetched::Failed(format!("the read stopped: {e}")),
            Err(_) => Fetched::Failed("no answer within the page's time; shown on a later view".into()),
        };
        let groups = take("CodeDeploy", fetched, notes);
        for r in resources.iter_mut() {
            let Some(cluster) = r
                .service
                .as_ref()
                .filter(|s| s.controller == crate::model::DeploymentController::CodeDeploy)
                .map(|s| s.cluster.clone())
            else {
                continue;
            };
            let text = groups
                .iter()
                .find(|(c, s, _)| *c == cluster && *s == r.name)
                .map(|(_, _, t)| t.clone())
                .unwrap_or_else(|| "no deployment group found for this service".into());
            r.details.push(("CodeDeploy".into(), text));
        }
    }

    /// The environment's scope (scope.rs) from its cached inventory and tagged ARNs; None without a
    /// selector; one that owns nothing when the tagged resources could not be read.
    async fn scope(&self, env: &str, now_ms: i64) -> Result<Option<scope::Scope>, CloudError> {
        let inv = self.inventory(env, now_ms).await?;
        self.scope_of(env, &inv).await
    }

    /// The scope of an inventory just read (its tagged ARNs come from the same cache entry).
    async fn scope_of(&self, env: &str, inv: &Inventory) -> Result<Option<scope::Scope>, CloudError> {
        let (reader, clients) = self.reader(env).await?;
        let Some(selector) = reader.config.selector.as_ref() else {
            return Ok(None);
        };
        if inv.notes.iter().any(|n| n.part == "scope") {
            return Ok(Some(scope::Scope::default()));
        }
        let arns = part(
            &reader.arns,
            "tagged",
            TTL_TAGGED,
            &self.metrics,
            tagging::read(&clients.tagging, Some(selector)),
        )
        .await;
        Ok(Some(match arns {
            Fetched::Fresh(v) | Fetched::Stale { value: v, .. } => scope::Scope::new(&inv.resources, &v),
            Fetched::Failed(_) => scope::Scope::default(),
        }))
    }
}

/// One part of the inventory, fetched through the cache within `PART_TIMEOUT`.
async fn part<T, Fut>(cache: &Cache<T>, key: &str, ttl: Duration, metrics: &Metrics, fetch: Fut) -> Fetched<T>
where
    Fut: std::future::Future<Output = Result<T, String>>,
{
    cache
        .get(key, ttl, metrics, || async move {
            match tokio::time::timeout(PART_TIMEOUT, fetch).await {
                Ok(r) => r,
                Err(_) => Err(format!("no answer within {} s", PART_TIMEOUT.as_secs())),
            }
        })
        .await
}

fn take<T: Clone + Default>(label: &str, f: Fetched<T>, notes: &mut Vec<DataNote>) -> T {
    match f {
        Fetched::Fresh(v) => (*v).clone(),
        Fetched::Stale { value, age, error } => {
            notes.push(DataNote {
                part: label.into(),
                message: error,
                stale_age_s: Some(age.as_secs()),
            });
            (*value).clone()
        }
        Fetched::Failed(error) => {
            notes.push(DataNote {
                part: label.into(),
                message: error,
                stale_age_s: None,
            });
            T::default()
        }
    }
}

#[async_trait]
impl Cloud for SdkCloud {
    async fn inventory(&self, env: &str, now_ms: i64) -> Result<Inventory, CloudError> {
        let (reader, clients) = self.reader(env).await?;
        let m = &self.metrics;
        let selector = reader.config.selector.as_ref();
        let region = reader.config.region.as_str();
        let mut notes = Vec::new();
        let started = std::time::Instant::now();
        let tagged = || {
            part(
                &reader.arns,
                "tagged",
                TTL_TAGGED,
                m,
                tagging::read(&clients.tagging, selector),
            )
        };
        // Kinds whose list calls carry no tags are narrowed to the tagged ARNs before any
        // per-resource call: they wait for the same (single-flight, cached) tagged read.
        let owned = || async {
            match tagged().await {
                Fetched::Fresh(v) | Fetched::Stale { value: v, .. } if selector.is_some() => {
                    Some(v.iter().cloned().collect::<HashSet<String>>())
                }
                _ => None,
            }
        };
        let cache = &reader.resources;
        let (arns, ecs, elb, rds, alarms, stacks, lambdas, apis, rules, caches, scaling) = tokio::join!(
            tagged(),
            part(cache, "ecs", TTL_ECS, m, ecs::read(&clients.ecs, &reader.taskdefs)),
            part(cache, "elb", TTL_ELB, m, elb::read(&clients.elb)),
            part(cache, "rds", TTL_RDS, m, rds::read(&clients.rds)),
            part(
                &reader.alarms,
                "alarms",
                TTL_ALARMS,
                m,
                cloudwatch::alarms(&clients.cloudwatch, &self.severity)
            ),
            // Stacks and APIs carry their tags: narrowed by their own.
            part(
                cache,
                "cloudformation",
                TTL_STACKS,
                m,
                cloudformation::read(&clients.cloudformation, selector)
            ),
            part(cache, "lambda", TTL_LAMBDA, m, async {
                lambda::read(&clients.lambda, owned().await.as_ref(), &reader.concurrency).await
            }),
            part(
                cache,
                "apis",
                TTL_APIS,
                m,
                apigateway::read(&clients.apigateway, &clients.apigatewayv2, region, selector)
            ),
            part(cache, "events", TTL_RULES, m, async {
                eventbridge::read(
                    &clients.eventbridge,
                    selector,
                    owned().await.as_ref(),
                    &reader.rule_tags,
                )
                .await
            }),
            part(cache, "elasticache", TTL_ELASTICACHE, m, async {
                elasticache::read(&clients.elasticache, owned().await.as_ref()).await
            }),
            part(
                &reader.scaling,
                "scaling",
                TTL_SCALING,
                m,
                scaling::read(&clients.scaling)
            ),
        );
        let tagging_failed = matches!(arns, Fetched::Failed(_));
        let arns = take("tagged resources", arns, &mut notes);
        let narrow = selector.is_some() && !tagging_failed;
        let ecs = take("ECS", ecs, &mut notes);
        let elb = take("load balancers", elb, &mut notes);
        let rds = take("databases", rds, &mut notes);
        let alarms = take("alarms", alarms, &mut notes);
        let mut extra = take("CloudFormation stacks", stacks, &mut notes);
        extra.extend(take("Lambda functions", lambdas, &mut notes));
        extra.extend(take("API Gateway", apis, &mut notes));
        extra.extend(take("EventBridge rules", rules, &mut notes));
        extra.extend(take("ElastiCache", caches, &mut notes));
        let scaling = take("ECS auto scaling", scaling, &mut notes);
        if selector.is_some() && tagging_failed {
            notes.push(DataNote {
                part: "scope".into(),
                message: SCOPE_UNKNOWN.into(),
                stale_age_s: None,
            });
        }
        let mut resources = compose(ecs, elb, rds, extra, &arns, narrow);
        for r in resources.iter_mut() {
            let Some(info) = &r.service else { continue };
            let key = format!("service/{}/{}", info.cluster, r.name);
            if let Some((_, text)) = scaling.iter().find(|(id, _)| *id == key) {
                r.details.push(("autoscaling".into(), text.clone()));
            }
        }
        let left = GAUGE_BUDGET.saturating_sub(started.elapsed());
        self.with_codedeploy(env, &mut resources, &mut notes, left).await;
        // Without its tagged resources, whose an alarm is cannot be told: none is claimed.
        let scope = match (narrow, selector) {
            (true, _) => Some(scope::Scope::new(&resources, &arns)),
            (false, Some(_)) => Some(scope::Scope::default()),
            (false, None) => None,
        };
        let alarms = cloudwatch::scoped(&alarms, scope.as_ref());
        let mut inv = Inventory {
            resources,
            alarms,
            gauges: vec![],
            fetched_ms: now_ms,
            notes,
        };
        // Current figures: the latest datapoints of the last hour's charts (shared with the status
        // check and the metrics page through the chart cache). A failure shows on the metrics page.
        // Within what is left of the page's budget; a slow CloudWatch leaves the figures out.
        let left = GAUGE_BUDGET.saturating_sub(started.elapsed());
        if let Ok(task) = self.spawn_charts(env, &inv, TimeRange::H1, now_ms).await
            && let Ok(Ok(Fetched::Fresh(read) | Fetched::Stale { value: read, .. })) =
                tokio::time::timeout(left, task).await
        {
            inv.gauges = read.2.clone();
            cloudwatch::last_runs(&mut inv.resources, &read.0);
        }
        Ok(inv)
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
            self.inventory(env, now_ms)
        );
        let inv = inv?;
        let scope = self.scope_of(env, &inv).await?;
        let mut notes = Vec::new();
        let read = take("backups", fetched, &mut notes);
        let mut data = read.scoped(scope.as_ref());
        data.notes.append(&mut notes);
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
        let (read, scope) = tokio::join!(
            cloudwatch::alarms(&clients.cloudwatch, &self.severity),
            self.scope(env, now)
        );
        let read = read.map_err(|m| aws_error("cloudwatch", "DescribeAlarms", m))?;
        Ok(cloudwatch::scoped(&read, scope?.as_ref()))
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

fn aws_error(service: &str, operation: &str, message: String) -> CloudError {
    CloudError::Aws {
        service: service.into(),
        operation: operation.into(),
        message,
    }
}

/// Joins the parts: narrows ECS, load balancers and databases to the selector's tagged ARNs when
/// there is a selector, adds the kinds read (and narrowed) through their own APIs, links
/// target groups to the services they feed, and adds the other tagged resources by type.
pub fn compose(
    ecs: Vec<Resource>,
    elb: Vec<Resource>,
    rds: Vec<Resource>,
    extra: Vec<Resource>,
    tagged: &[String],
    narrow: bool,
) -> Vec<Resource> {
    let tagged_set: HashSet<&str> = tagged.iter().map(String::as_str).collect();
    let mut out: Vec<Resource> = Vec::new();
    if narrow {
        // Clusters carry the tag; their services and tasks belong to the environment.
        let clusters: HashSet<String> = ecs
            .iter()
            .filter(|r| r.kind == ResourceKind::EcsCluster && tagged_set.contains(r.id.as_str()))
            .map(|r| r.name.clone())
            .collect();
        out.extend(ecs.into_iter().filter(|r| match r.kind {
            ResourceKind::EcsCluster => clusters.contains(&r.name),
            _ => {
                tagged_set.contains(r.id.as_str()) || r.service.as_ref().is_some_and(|s| clusters.contains(&s.cluster))
            }
        }));
        let lbs: Vec<Resource> = elb
            .iter()
            .filter(|r| r.kind == ResourceKind::LoadBalancer && tagged_set.contains(r.id.as_str()))
            .cloned()
            .collect();
        let lb_targets: HashSet<&str> = lbs.iter().flat_map(|l| l.links.iter().map(String::as_str)).collect();
        let tgs: Vec<Resource> = elb
            .iter()
            .filter(|r| {
                r.kind == ResourceKind::TargetGroup
                    && (tagged_set.contains(r.id.as_str()) || lb_targets.contains(r.id.as_str()))
            })
            .cloned()
            .collect();
        out.extend(lbs);
        out.extend(tgs);
        out.extend(rds.into_iter().filter(|r| tagged_set.contains(r.id.as_str())));
    } else {
        out.extend(ecs);
        out.extend(elb);
        out.extend(rds);
    }
    // Read through their own APIs and already narrowed (by their own tags or the tagged ARNs).
    out.extend(extra);
    // Target group → services it feeds (and, through them, the topology's request path).
    let feeds: Vec<(String, String)> = out
        .iter()
        .filter_map(|r| r.service.as_ref().map(|s| (r.id.clone(), s.target_groups.clone())))
        .flat_map(|(svc, tgs)| tgs.into_iter().map(move |tg| (tg, svc.clone())))
        .collect();
    for r in out.iter_mut().filter(|r| r.kind == ResourceKind::TargetGroup) {
        r.links
            .extend(feeds.iter().filter(|(tg, _)| *tg == r.id).map(|(_, svc)| svc.clone()));
    }
    let known: HashSet<String> = out.iter().map(|r| r.id.clone()).collect();
    out.extend(
        tagged
            .iter()
            // An API's stages carry tags too; they are the API's, not APIs of their own.
            .filter(|a| !tagging::read_elsewhere(a) && !known.contains(*a) && !a.contains("/stages/"))
            .map(|a| tagging::resource_for(a)),
    );
    out
}
