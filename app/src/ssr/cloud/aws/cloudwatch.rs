//! CloudWatch: every alarm of the environment (DescribeAlarms, paginated) and the charts of a
//! page in one GetMetricData call (up to 500 queries a call), plus one more for the percentile
//! statistics, which some endpoints cannot compute (moto answers 500): those charts then say
//! "not available from this endpoint" and the others are unaffected.

use super::err_text;
use crate::model::{Alarm, AlarmState, Chart, DataNote, Resource, ResourceKind, Series};
use crate::ssr::cloud::SeverityRules;
use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat, StateValue};
use std::collections::HashMap;

/// GetMetricData takes at most 500 queries per call.
pub const MAX_QUERIES: usize = 500;
/// Charts per kind of resource, so that a large account does not make a page of a thousand charts.
const PER_KIND: usize = 4;

/// An alarm as read, with what decides whose it is (its ARN, for the tag, and every dimension).
#[derive(Debug, Clone)]
pub struct ReadAlarm {
    pub alarm: Alarm,
    pub arn: String,
    pub dims: Vec<(String, String)>,
}

/// The alarms of `read` that belong to the scope (all of them without one).
pub fn scoped(read: &[ReadAlarm], scope: Option<&super::scope::Scope>) -> Vec<Alarm> {
    read.iter()
        .filter(|a| scope.is_none_or(|s| s.has_alarm(&a.arn, &a.dims)))
        .map(|a| a.alarm.clone())
        .collect()
}

pub async fn alarms(client: &Client, severity: &SeverityRules) -> Result<Vec<ReadAlarm>, String> {
    let pages: Vec<_> = client
        .describe_alarms()
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(|e| err_text("CloudWatch DescribeAlarms", &e))?;
    let mut out = Vec::new();
    for page in pages {
        for a in page.metric_alarms() {
            let name = a.alarm_name().unwrap_or_default().to_string();
            let dims: Vec<(String, String)> = a
                .dimensions()
                .iter()
                .filter_map(|d| Some((d.name()?.to_string(), d.value()?.to_string())))
                .collect();
            let alarm = Alarm {
                severity: severity.severity(&name),
                state: match a.state_value() {
                    Some(StateValue::Alarm) => AlarmState::Alarm,
                    Some(StateValue::Ok) => AlarmState::Ok,
                    _ => AlarmState::InsufficientData,
                },
                reason: a.state_reason().unwrap_or_default().to_string(),
                condition: format!(
                    "{} {} {} ({} × {} s)",
                    a.metric_name().unwrap_or("?"),
                    a.comparison_operator().map(|c| c.as_str()).unwrap_or("?"),
                    a.threshold().map(|t| t.to_string()).unwrap_or_default(),
                    a.evaluation_periods().unwrap_or(1),
                    a.period().unwrap_or(0)
                ),
                since_ms: a.state_updated_timestamp().map(super::secs_to_ms).unwrap_or(0),
                resource: dims.first().map(|(_, v)| v.clone()),
                metric: match (a.namespace(), a.metric_name()) {
                    (Some(ns), Some(m)) => Some(format!("{ns}/{m}")),
                    _ => None,
                },
                threshold: a.threshold(),
                name,
            };
            out.push(ReadAlarm {
                alarm,
                arn: a.alarm_arn().unwrap_or_default().to_string(),
                dims,
            });
        }
    }
    out.sort_by(|a, b| {
        (b.alarm.state == AlarmState::Alarm)
            .cmp(&(a.alarm.state == AlarmState::Alarm))
            .then(a.alarm.severity.cmp(&b.alarm.severity))
    });
    Ok(out)
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
}

impl QuerySpec {
    fn percentile(&self) -> bool {
        self.stat.starts_with('p')
    }
}

#[derive(Debug, Clone)]
pub struct ChartSpec {
    pub title: String,
    pub unit: &'static str,
    /// "Namespace/Metric" whose alarm threshold is drawn, and the scale it needs.
    pub threshold_metric: Option<(String, f64)>,
}

/// The charts the demo systems' dashboards show (docs/DEMO.md), for the resources of an
/// environment: requests/s, p50/p95/p99 latency and 5xx per load balancer; CPU and memory per ECS
/// service; connections per database; invocations, errors, throttles and duration per Lambda
/// function; 5xx and latency per API.
pub fn plan(resources: &[Resource], period: i32) -> (Vec<ChartSpec>, Vec<QuerySpec>) {
    let mut charts = Vec::new();
    let mut queries = Vec::new();
    let mut add = |title: String, unit: &'static str, threshold: Option<(String, f64)>, qs: Vec<QuerySpec>| {
        let idx = charts.len();
        charts.push(ChartSpec {
            title,
            unit,
            threshold_metric: threshold,
        });
        queries.extend(qs.into_iter().map(|mut q| {
            q.chart = idx;
            q
        }));
    };
    let q = |label: &str, key, namespace, metric, dims: Vec<(&'static str, String)>, stat, scale| QuerySpec {
        chart: 0,
        label: label.to_string(),
        key,
        namespace,
        metric,
        dims,
        stat,
        scale,
    };
    let of = |kind: ResourceKind| resources.iter().filter(move |r| r.kind == kind).take(PER_KIND);
    for lb in of(ResourceKind::LoadBalancer) {
        // The metric dimension is the ARN's suffix: app/name/id.
        let Some(dim) = lb.id.split(":loadbalancer/").nth(1).map(str::to_string) else {
            continue;
        };
        let d = || vec![("LoadBalancer", dim.clone())];
        let per_s = 1.0 / f64::from(period);
        add(
            format!("Requests/s — {}", lb.name),
            "req/s",
            None,
            vec![q(
                "requests/s",
                None,
                "AWS/ApplicationELB",
                "RequestCount",
                d(),
                "Sum",
                per_s,
            )],
        );
        add(
            format!("Latency — {}", lb.name),
            "ms",
            Some(("AWS/ApplicationELB/TargetResponseTime".into(), 1000.0)),
            ["p50", "p95", "p99"]
                .into_iter()
                .map(|p| q(p, None, "AWS/ApplicationELB", "TargetResponseTime", d(), p, 1000.0))
                .collect(),
        );
        add(
            format!("5xx — {}", lb.name),
            "count",
            Some(("AWS/ApplicationELB/HTTPCode_Target_5XX_Count".into(), 1.0)),
            vec![q(
                "target 5xx",
                None,
                "AWS/ApplicationELB",
                "HTTPCode_Target_5XX_Count",
                d(),
                "Sum",
                1.0,
            )],
        );
    }
    for svc in of(ResourceKind::EcsService) {
        let Some(info) = &svc.service else { continue };
        let d = || vec![("ClusterName", info.cluster.clone()), ("ServiceName", svc.name.clone())];
        add(
            format!("CPU and memory — {}", svc.name),
            "%",
            Some(("AWS/ECS/CPUUtilization".into(), 1.0)),
            vec![
                q("CPU", None, "AWS/ECS", "CPUUtilization", d(), "Average", 1.0),
                q("memory", None, "AWS/ECS", "MemoryUtilization", d(), "Average", 1.0),
            ],
        );
    }
    for db in of(ResourceKind::RdsInstance) {
        let d = || vec![("DBInstanceIdentifier", db.name.clone())];
        add(
            format!("DB connections — {}", db.name),
            "count",
            Some(("AWS/RDS/DatabaseConnections".into(), 1.0)),
            vec![q(
                "connections",
                None,
                "AWS/RDS",
                "DatabaseConnections",
                d(),
                "Average",
                1.0,
            )],
        );
    }
    for f in of(ResourceKind::Lambda) {
        let d = || vec![("FunctionName", f.name.clone())];
        add(
            format!("Invocations — {}", f.name),
            "count",
            Some(("AWS/Lambda/Errors".into(), 1.0)),
            vec![
                q(
                    "invocations",
                    Some("lambda_invocations"),
                    "AWS/Lambda",
                    "Invocations",
                    d(),
                    "Sum",
                    1.0,
                ),
                q("errors", Some("lambda_errors"), "AWS/Lambda", "Errors", d(), "Sum", 1.0),
                q("throttles", None, "AWS/Lambda", "Throttles", d(), "Sum", 1.0),
            ],
        );
        add(
            format!("Duration — {}", f.name),
            "ms",
            Some(("AWS/Lambda/Duration".into(), 1.0)),
            vec![q("average", None, "AWS/Lambda", "Duration", d(), "Average", 1.0)],
        );
    }
    for api in of(ResourceKind::ApiGateway) {
        let d = || vec![("ApiName", api.name.clone())];
        add(
            format!("API 5xx and latency — {}", api.name),
            "count / ms",
            Some(("AWS/ApiGateway/5XXError".into(), 1.0)),
            vec![
                q("5xx", Some("api_5xx"), "AWS/ApiGateway", "5XXError", d(), "Sum", 1.0),
                q("latency", None, "AWS/ApiGateway", "Latency", d(), "Average", 1.0),
            ],
        );
    }
    (charts, queries)
}

fn to_query(i: usize, q: &QuerySpec, period: i32) -> MetricDataQuery {
    let metric = Metric::builder()
        .namespace(q.namespace)
        .metric_name(q.metric)
        .set_dimensions(Some(
            q.dims
                .iter()
                .map(|(k, v)| Dimension::builder().name(*k).value(v).build())
                .collect(),
        ))
        .build();
    MetricDataQuery::builder()
        .id(format!("q{i}"))
        .label(&q.label)
        .metric_stat(MetricStat::builder().metric(metric).period(period).stat(q.stat).build())
        .return_data(true)
        .build()
}

/// Fetches every query: plain statistics in as few GetMetricData calls as the 500-query limit
/// allows, percentiles separately. Returns values per query index (None: could not be read).
pub async fn fetch(
    client: &Client,
    queries: &[QuerySpec],
    period: i32,
    start_ms: i64,
    end_ms: i64,
) -> (HashMap<usize, Vec<(i64, f64)>>, Vec<DataNote>) {
    let mut values = HashMap::new();
    let mut notes = Vec::new();
    for percentile in [false, true] {
        let group: Vec<(usize, &QuerySpec)> = queries
            .iter()
            .enumerate()
            .filter(|(_, q)| q.percentile() == percentile)
            .collect();
        for chunk in group.chunks(MAX_QUERIES) {
            let result = client
                .get_metric_data()
                .set_metric_data_queries(Some(chunk.iter().map(|(i, q)| to_query(*i, q, period)).collect()))
                .start_time(aws_smithy_types::DateTime::from_millis(start_ms))
                .end_time(aws_smithy_types::DateTime::from_millis(end_ms))
                .into_paginator()
                .send()
                .try_collect()
                .await;
            match result {
                Ok(pages) => {
                    for page in pages {
                        for r in page.metric_data_results() {
                            let Some(idx) = r
                                .id()
                                .and_then(|id| id.strip_prefix('q'))
                                .and_then(|n| n.parse::<usize>().ok())
                            else {
                                continue;
                            };
                            let scale = queries.get(idx).map(|q| q.scale).unwrap_or(1.0);
                            let entry: &mut Vec<(i64, f64)> = values.entry(idx).or_default();
                            entry.extend(
                                r.timestamps()
                                    .iter()
                                    .zip(r.values())
                                    .map(|(t, v)| (super::secs_to_ms(t), v * scale)),
                            );
                        }
                    }
                }
                Err(e) => notes.push(DataNote {
                    part: if percentile {
                        "metrics (percentiles)".into()
                    } else {
                        "metrics".into()
                    },
                    message: if percentile {
                        format!(
                            "p50/p95/p99 not available from this endpoint: {}",
                            err_text("GetMetricData", &e)
                        )
                    } else {
                        err_text("CloudWatch GetMetricData", &e)
                    },
                    stale_age_s: None,
                }),
            }
        }
    }
    for v in values.values_mut() {
        v.sort_by_key(|(t, _)| *t);
    }
    (values, notes)
}

/// Charts from the plan and the fetched values; thresholds from the alarms on the same metric.
pub fn assemble(
    charts: &[ChartSpec],
    queries: &[QuerySpec],
    values: &HashMap<usize, Vec<(i64, f64)>>,
    failed_percentiles: bool,
    failed_all: bool,
    alarms: &[Alarm],
) -> Vec<Chart> {
    charts
        .iter()
        .enumerate()
        .map(|(ci, spec)| {
            let mine: Vec<(usize, &QuerySpec)> = queries.iter().enumerate().filter(|(_, q)| q.chart == ci).collect();
            let series: Vec<Series> = mine
                .iter()
                .filter_map(|(i, q)| {
                    values.get(i).map(|points| Series {
                        label: q.label.clone(),
                        key: q.key.map(str::to_string),
                        points: points.clone(),
                    })
                })
                .collect();
            let unavailable = failed_all || (failed_percentiles && mine.iter().all(|(_, q)| q.percentile()));
            let note = if unavailable {
                Some("not available from this endpoint".to_string())
            } else if series.iter().all(|s| s.points.is_empty()) {
                Some("no data points in this range".to_string())
            } else {
                None
            };
            let threshold = spec.threshold_metric.as_ref().and_then(|(m, scale)| {
                alarms
                    .iter()
                    .find(|a| a.metric.as_deref() == Some(m.as_str()))
                    .and_then(|a| a.threshold)
                    .map(|t| t * scale)
            });
            Chart {
                title: spec.title.clone(),
                unit: spec.unit.to_string(),
                series,
                threshold,
                note,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudwatch::operation::get_metric_data::GetMetricDataOutput;
    use aws_sdk_cloudwatch::types::MetricDataResult;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    fn lambdas(n: usize) -> Vec<Resource> {
        (0..n)
            .map(|i| Resource {
                kind: ResourceKind::Lambda,
                name: format!("fn-{i}"),
                id: format!("arn:aws:lambda:us-east-1:1:function:fn-{i}"),
                status: "tagged".into(),
                health: crate::model::Health::Unknown,
                zones: vec![],
                tasks: None,
                details: vec![],
                links: vec![],
                service: None,
            })
            .collect()
    }

    #[tokio::test]
    async fn one_call_for_plain_statistics_and_percentile_failures_stay_local() -> Result<(), &'static str> {
        let mut resources = lambdas(3);
        resources.push(Resource {
            kind: ResourceKind::LoadBalancer,
            name: "alb".into(),
            id: "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/alb/abc".into(),
            ..lambdas(1).remove(0)
        });
        let (charts, queries) = plan(&resources, 60);
        let plain = mock!(Client::get_metric_data)
            .match_requests(|r| {
                r.metric_data_queries().iter().all(|q| {
                    q.metric_stat()
                        .and_then(|m| m.stat())
                        .is_some_and(|s| !s.starts_with('p'))
                })
            })
            .then_compute_output(|r| {
                let results = r
                    .metric_data_queries()
                    .iter()
                    .map(|q| {
                        MetricDataResult::builder()
                            .id(q.id().unwrap_or_default())
                            .timestamps(aws_smithy_types::DateTime::from_secs(1_800_000_000))
                            .values(if q.label() == Some("errors") { 2.0 } else { 60.0 })
                            .build()
                    })
                    .collect();
                GetMetricDataOutput::builder()
                    .set_metric_data_results(Some(results))
                    .build()
            });
        let percentiles = mock!(Client::get_metric_data)
            .match_requests(|r| {
                r.metric_data_queries().iter().all(|q| {
                    q.metric_stat()
                        .and_then(|m| m.stat())
                        .is_some_and(|s| s.starts_with('p'))
                })
            })
            .sequence()
            .http_status(500, None)
            .times(3)
            .build();
        let client = mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, [&plain, &percentiles], |c| c
            .retry_config(
                aws_config::retry::RetryConfig::standard()
                    .with_max_attempts(3)
                    .with_initial_backoff(std::time::Duration::from_millis(1))
            )
            .sleep_impl(aws_smithy_async::rt::sleep::SharedAsyncSleep::new(
                aws_smithy_async::rt::sleep::TokioSleep::new()
            )));
        let (values, notes) = fetch(&client, &queries, 60, 1_799_996_400_000, 1_800_000_000_000).await;
        assert_eq!(plain.num_calls(), 1, "every plain query in one call");
        assert_eq!(
            percentiles.num_calls(),
            3,
            "the percentile call is retried, then given up"
        );
        assert_eq!(notes.len(), 1);
        assert!(
            notes[0].message.contains("not available from this endpoint"),
            "{:?}",
            notes
        );
        let out = assemble(&charts, &queries, &values, true, false, &[]);
        let latency = out
            .iter()
            .find(|c| c.title.starts_with("Latency"))
            .ok_or("latency chart")?;
        assert_eq!(latency.note.as_deref(), Some("not available from this endpoint"));
        let requests = out
            .iter()
            .find(|c| c.title.starts_with("Requests/s"))
            .ok_or("requests chart")?;
        assert_eq!(
            requests.series[0].points,
            vec![(1_800_000_000_000, 1.0)],
            "60 per minute = 1/s"
        );
        let inv = out
            .iter()
            .find(|c| c.title == "Invocations — fn-0")
            .ok_or("invocations")?;
        assert_eq!(
            inv.series
                .iter()
                .find(|s| s.key.as_deref() == Some("lambda_errors"))
                .map(|s| s.points[0].1),
            Some(2.0)
        );
        Ok(())
    }

    #[test]
    fn a_large_account_is_charted_a_few_resources_per_kind() {
        let (charts, queries) = plan(&lambdas(200), 60);
        assert_eq!(charts.len(), PER_KIND * 2, "invocations and duration per function");
        assert_eq!(queries.len(), PER_KIND * 4);
    }
}
