//! Which CloudWatch charts an environment gets, per kind of resource (the seeds' dashboards):
//! load balancers (requests/s, p50/p95/p99, 5xx, error rate, unhealthy hosts), ECS services (CPU,
//! memory), RDS (connections, CPU, free storage, replica lag), DocumentDB, Lambda (per function,
//! and every function summed for the error-rate check), API Gateway (per API, and every API summed),
//! DynamoDB throttles, S3 size and objects (daily), CloudFront 5xx rate, WAF blocked requests,
//! ElastiCache CPU and evictions, EventBridge invocations and failures. The dimensions come from
//! scope.rs `dims_of`, the same ones that decide whose an alarm is.

use super::scope::dims_of;
use crate::model::{Resource, ResourceKind};

/// Charts per kind of resource, so that a large account does not make a page of a thousand charts.
/// The summed charts (every Lambda function, every API) cover all of them regardless.
pub const PER_KIND: usize = 4;
/// Per-function lines on a chart of every function: the worst few.
pub const TOP_SERIES: usize = 5;

/// How a query takes part in a ratio chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Plain,
    Numerator,
    Denominator,
}

/// One series to fetch.
#[derive(Debug, Clone)]
pub struct QuerySpec {
    pub chart: usize,
    pub label: String,
    pub key: Option<&'static str>,
    pub namespace: &'static str,
    pub metric: &'static str,
    pub dims: Vec<(&'static str, String)>,
    pub stat: &'static str,
    /// Multiply values by this (seconds → ms; sums → per second).
    pub scale: f64,
    pub role: Role,
    /// A period of its own (S3's storage metrics are daily); else the range's.
    pub period: Option<i32>,
}

impl QuerySpec {
    pub fn percentile(&self) -> bool {
        self.stat.starts_with('p')
    }
}

#[derive(Debug, Clone)]
pub struct ChartSpec {
    pub title: String,
    pub unit: &'static str,
    /// "Namespace/Metric" whose alarm threshold is drawn, and the scale it needs.
    pub threshold_metric: Option<(String, f64)>,
    /// A ratio chart: one series with this label (and status key), 100 × numerators ÷ denominators.
    pub ratio: Option<(&'static str, Option<&'static str>)>,
    /// With `ratio`: also one ratio series per query label (a function), keyed so, the worst
    /// `TOP_SERIES` of them shown.
    pub ratio_each: Option<&'static str>,
    /// The series whose latest value is a "current figure" on the environment page.
    pub gauge: Option<&'static str>,
    /// With `ratio`: the sums over the range of the numerators and the denominators, under these
    /// keys, for everything (label "") and per query label, that a check weighs.
    pub totals: Option<(&'static str, &'static str)>,
}

const DAY: i32 = 86_400;

struct Plan {
    charts: Vec<ChartSpec>,
    queries: Vec<QuerySpec>,
}

/// A query before it is given to a chart.
fn q(
    label: &str,
    namespace: &'static str,
    metric: &'static str,
    dims: Vec<(&'static str, String)>,
    stat: &'static str,
) -> QuerySpec {
    QuerySpec {
        chart: 0,
        label: label.to_string(),
        key: None,
        namespace,
        metric,
        dims,
        stat,
        scale: 1.0,
        role: Role::Plain,
        period: None,
    }
}

impl QuerySpec {
    fn key(mut self, key: &'static str) -> Self {
        self.key = Some(key);
        self
    }
    fn scale(mut self, scale: f64) -> Self {
        self.scale = scale;
        self
    }
    fn role(mut self, role: Role) -> Self {
        self.role = role;
        self
    }
    fn daily(mut self) -> Self {
        self.period = Some(DAY);
        self
    }
}

impl Plan {
    fn add(
        &mut self,
        title: String,
        unit: &'static str,
        threshold: Option<&str>,
        gauge: Option<&'static str>,
        qs: Vec<QuerySpec>,
    ) {
        self.add_spec(
            ChartSpec {
                title,
                unit,
                threshold_metric: threshold.map(|m| (m.to_string(), 1.0)),
                ratio: None,
                ratio_each: None,
                gauge,
                totals: None,
            },
            qs,
        );
    }

    fn add_spec(&mut self, spec: ChartSpec, qs: Vec<QuerySpec>) {
        let idx = self.charts.len();
        self.charts.push(spec);
        self.queries.extend(qs.into_iter().map(|mut q| {
            q.chart = idx;
            q
        }));
    }
}

pub fn plan(resources: &[Resource], period: i32) -> (Vec<ChartSpec>, Vec<QuerySpec>) {
    let mut p = Plan {
        charts: Vec::new(),
        queries: Vec::new(),
    };
    let all = |kind: ResourceKind| resources.iter().filter(move |r| r.kind == kind);
    let of = |kind: ResourceKind| all(kind).take(PER_KIND);
    let per_s = 1.0 / f64::from(period);
    for lb in of(ResourceKind::LoadBalancer) {
        let d = dims_of(lb);
        if d.is_empty() {
            continue;
        }
        let elb = "AWS/ApplicationELB";
        p.add(
            format!("Requests/s — {}", lb.name),
            "req/s",
            None,
            Some("requests/s"),
            vec![q("requests/s", elb, "RequestCount", d.clone(), "Sum").scale(per_s)],
        );
        let latency = ChartSpec {
            title: format!("Latency — {}", lb.name),
            unit: "ms",
            threshold_metric: Some(("AWS/ApplicationELB/TargetResponseTime".into(), 1000.0)),
            ratio: None,
            ratio_each: None,
            gauge: Some("p95"),
            totals: None,
        };
        p.add_spec(
            latency,
            ["p50", "p95", "p99"]
                .into_iter()
                .map(|s| q(s, elb, "TargetResponseTime", d.clone(), s).scale(1000.0))
                .collect(),
        );
        p.add(
            format!("5xx — {}", lb.name),
            "count",
            Some("AWS/ApplicationELB/HTTPCode_Target_5XX_Count"),
            None,
            vec![
                q("target 5xx", elb, "HTTPCode_Target_5XX_Count", d.clone(), "Sum"),
                q("load balancer 5xx", elb, "HTTPCode_ELB_5XX_Count", d.clone(), "Sum"),
            ],
        );
        p.add_spec(
            ChartSpec {
                title: format!("Error rate — {}", lb.name),
                unit: "%",
                threshold_metric: None,
                ratio: Some(("5xx rate", Some("alb_error_rate"))),
                ratio_each: None,
                gauge: Some("5xx rate"),
                totals: None,
            },
            vec![
                q("target 5xx", elb, "HTTPCode_Target_5XX_Count", d.clone(), "Sum").role(Role::Numerator),
                q("load balancer 5xx", elb, "HTTPCode_ELB_5XX_Count", d.clone(), "Sum").role(Role::Numerator),
                q("requests", elb, "RequestCount", d.clone(), "Sum").role(Role::Denominator),
            ],
        );
    }
    // Unhealthy hosts per target group, keyed by the load balancer that sends to it.
    for tg in of(ResourceKind::TargetGroup) {
        let Some(lb) = resources
            .iter()
            .find(|r| r.kind == ResourceKind::LoadBalancer && r.links.contains(&tg.id))
        else {
            continue;
        };
        let mut d = dims_of(tg);
        d.extend(dims_of(lb));
        p.add(
            format!("Unhealthy hosts — {}", tg.name),
            "hosts",
            Some("AWS/ApplicationELB/UnHealthyHostCount"),
            None,
            vec![
                q(
                    "unhealthy",
                    "AWS/ApplicationELB",
                    "UnHealthyHostCount",
                    d.clone(),
                    "Maximum",
                ),
                q("healthy", "AWS/ApplicationELB", "HealthyHostCount", d, "Minimum"),
            ],
        );
    }
    for svc in of(ResourceKind::EcsService) {
        let d = dims_of(svc);
        p.add(
            format!("CPU and memory — {}", svc.name),
            "%",
            Some("AWS/ECS/CPUUtilization"),
            Some("CPU"),
            vec![
                q("CPU", "AWS/ECS", "CPUUtilization", d.clone(), "Average"),
                q("memory", "AWS/ECS", "MemoryUtilization", d, "Average"),
            ],
        );
    }
    for db in of(ResourceKind::RdsInstance) {
        let d = dims_of(db);
        p.add(
            format!("DB connections — {}", db.name),
            "count",
            Some("AWS/RDS/DatabaseConnections"),
            Some("connections"),
            vec![q("connections", "AWS/RDS", "DatabaseConnections", d.clone(), "Average")],
        );
        p.add(
            format!("DB CPU — {}", db.name),
            "%",
            Some("AWS/RDS/CPUUtilization"),
            None,
            vec![q("CPU", "AWS/RDS", "CPUUtilization", d.clone(), "Average")],
        );
        p.add(
            format!("Free storage — {}", db.name),
            "GB",
            None,
            Some("free"),
            vec![q("free", "AWS/RDS", "FreeStorageSpace", d.clone(), "Minimum").scale(1e-9)],
        );
        if db.details.iter().any(|(k, _)| k == "replica of") {
            p.add(
                format!("Replica lag — {}", db.name),
                "s",
                Some("AWS/RDS/ReplicaLag"),
                Some("lag"),
                vec![q("lag", "AWS/RDS", "ReplicaLag", d, "Maximum")],
            );
        }
    }
    for c in of(ResourceKind::DocDbCluster) {
        let d = dims_of(c);
        p.add(
            format!("DocumentDB CPU and connections — {}", c.name),
            "% / count",
            Some("AWS/DocDB/CPUUtilization"),
            Some("CPU"),
            vec![
                q("CPU", "AWS/DocDB", "CPUUtilization", d.clone(), "Average"),
                q("connections", "AWS/DocDB", "DatabaseConnections", d, "Average"),
            ],
        );
    }
    for f in of(ResourceKind::Lambda) {
        let d = dims_of(f);
        p.add(
            format!("Invocations — {}", f.name),
            "count",
            Some("AWS/Lambda/Errors"),
            None,
            vec![
                q("invocations", "AWS/Lambda", "Invocations", d.clone(), "Sum"),
                q("errors", "AWS/Lambda", "Errors", d.clone(), "Sum"),
                q("throttles", "AWS/Lambda", "Throttles", d.clone(), "Sum"),
            ],
        );
        p.add(
            format!("Duration — {}", f.name),
            "ms",
            Some("AWS/Lambda/Duration"),
            None,
            vec![
                q("average", "AWS/Lambda", "Duration", d.clone(), "Average"),
                q("max", "AWS/Lambda", "Duration", d.clone(), "Maximum"),
                q("p95", "AWS/Lambda", "Duration", d, "p95"),
            ],
        );
    }
    // Every function: the error rate of all of them together and of each (the worst few drawn),
    // so the check covers every function, not the charted few.
    let functions: Vec<&Resource> = all(ResourceKind::Lambda).collect();
    if !functions.is_empty() {
        let mut qs: Vec<QuerySpec> = Vec::new();
        for f in &functions {
            qs.push(q(&f.name, "AWS/Lambda", "Errors", dims_of(f), "Sum").role(Role::Numerator));
            qs.push(q(&f.name, "AWS/Lambda", "Invocations", dims_of(f), "Sum").role(Role::Denominator));
        }
        p.add_spec(
            ChartSpec {
                title: format!("Lambda error rate — all {} functions", functions.len()),
                unit: "%",
                threshold_metric: None,
                ratio: Some(("all functions", Some("lambda_error_rate"))),
                ratio_each: Some("lambda_fn_error_rate"),
                gauge: Some("all functions"),
                totals: Some(("lambda_errors", "lambda_invocations")),
            },
            qs,
        );
    }
    let apis: Vec<&Resource> = all(ResourceKind::ApiGateway).collect();
    // HTTP APIs name their 5xx metric "5xx"; REST APIs "5XXError".
    let five = |api: &Resource| {
        if api.id.contains("/apis/") { "5xx" } else { "5XXError" }
    };
    for api in apis.iter().take(PER_KIND) {
        let d = dims_of(api);
        p.add(
            format!("API 5xx and latency — {}", api.name),
            "count / ms",
            Some("AWS/ApiGateway/5XXError"),
            None,
            vec![
                q("5xx", "AWS/ApiGateway", five(api), d.clone(), "Sum"),
                q("latency", "AWS/ApiGateway", "Latency", d, "Average"),
            ],
        );
    }
    if !apis.is_empty() {
        let mut qs: Vec<QuerySpec> = apis
            .iter()
            .map(|a| q("5xx", "AWS/ApiGateway", five(a), dims_of(a), "Sum").key("api_5xx"))
            .collect();
        qs.extend(
            apis.iter()
                .map(|a| q("requests", "AWS/ApiGateway", "Count", dims_of(a), "Sum").key("api_requests")),
        );
        p.add(
            format!("API Gateway — all {} APIs", apis.len()),
            "count",
            None,
            Some("5xx"),
            qs,
        );
    }
    for t in of(ResourceKind::DynamoDb) {
        let d = dims_of(t);
        p.add(
            format!("Throttles — {}", t.name),
            "count",
            None,
            None,
            vec![
                q("read throttles", "AWS/DynamoDB", "ReadThrottleEvents", d.clone(), "Sum"),
                q("write throttles", "AWS/DynamoDB", "WriteThrottleEvents", d, "Sum"),
            ],
        );
    }
    for b in of(ResourceKind::S3Bucket) {
        let mut size = dims_of(b);
        size.push(("StorageType", "StandardStorage".into()));
        let mut count = dims_of(b);
        count.push(("StorageType", "AllStorageTypes".into()));
        p.add(
            format!("Size — {}", b.name),
            "GB",
            None,
            Some("size"),
            vec![
                q("size", "AWS/S3", "BucketSizeBytes", size, "Average")
                    .scale(1e-9)
                    .daily(),
            ],
        );
        p.add(
            format!("Objects — {}", b.name),
            "objects",
            None,
            None,
            vec![q("objects", "AWS/S3", "NumberOfObjects", count, "Average").daily()],
        );
    }
    for dist in of(ResourceKind::CloudFront) {
        let mut d = dims_of(dist);
        d.push(("Region", "Global".into()));
        p.add(
            format!("CloudFront 5xx rate — {}", dist.name),
            "%",
            Some("AWS/CloudFront/5xxErrorRate"),
            Some("5xx rate"),
            vec![q("5xx rate", "AWS/CloudFront", "5xxErrorRate", d, "Average")],
        );
    }
    for acl in of(ResourceKind::Waf) {
        let mut d = dims_of(acl);
        d.push(("Rule", "ALL".into()));
        if let Some(region) = acl.id.split(':').nth(3).filter(|r| !r.is_empty()) {
            d.push(("Region", region.to_string()));
        }
        p.add(
            format!("WAF blocked requests — {}", acl.name),
            "count",
            None,
            Some("blocked"),
            vec![q("blocked", "AWS/WAFV2", "BlockedRequests", d, "Sum")],
        );
    }
    for g in of(ResourceKind::ElastiCache) {
        let nodes: Vec<(&'static str, String)> =
            dims_of(g).into_iter().filter(|(k, _)| *k == "CacheClusterId").collect();
        let mut qs: Vec<QuerySpec> = nodes
            .iter()
            .map(|n| {
                q(
                    &format!("CPU {}", n.1),
                    "AWS/ElastiCache",
                    "CPUUtilization",
                    vec![n.clone()],
                    "Average",
                )
            })
            .collect();
        qs.extend(
            nodes
                .iter()
                .map(|n| q("evictions", "AWS/ElastiCache", "Evictions", vec![n.clone()], "Sum")),
        );
        p.add(
            format!("ElastiCache CPU and evictions — {}", g.name),
            "% / count",
            Some("AWS/ElastiCache/CPUUtilization"),
            Some("evictions"),
            qs,
        );
    }
    for rule in of(ResourceKind::EventBridgeRule) {
        let d = dims_of(rule);
        p.add(
            format!("Runs — {}", rule.name),
            "count",
            Some("AWS/Events/FailedInvocations"),
            None,
            vec![
                q("invocations", "AWS/Events", "Invocations", d.clone(), "Sum"),
                q("failed", "AWS/Events", "FailedInvocations", d, "Sum").key("events_failed"),
            ],
        );
    }
    (p.charts, p.queries)
}
