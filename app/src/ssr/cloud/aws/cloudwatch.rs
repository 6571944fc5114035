//! CloudWatch metrics (alarms are in alarms.rs): the charts of a page (planned in charts.rs) in as few GetMetricData calls as the 500-query limit allows, plus
//! one more for the percentile statistics, which some endpoints cannot compute (moto answers
//! 500): those charts then say "not available from this endpoint" and the others are unaffected.

pub use super::alarms::{ReadAlarm, alarms, scoped};
pub use super::charts::{ChartSpec, QuerySpec, Role, plan};
use super::err_text;
use crate::model::{Alarm, Chart, DataNote, Gauge, Series};
use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
use std::collections::HashMap;

/// GetMetricData takes at most 500 queries per call.
pub const MAX_QUERIES: usize = 500;

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
        .metric_stat(
            MetricStat::builder()
                .metric(metric)
                .period(q.period.unwrap_or(period))
                .stat(q.stat)
                .build(),
        )
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
    // Plain statistics, percentiles, and daily metrics (S3, with a window of a few days), each in
    // calls of up to 500 queries, all calls at once (one call's slowness does not add to another's).
    let mut groups: Vec<(bool, Option<i32>)> = queries.iter().map(|q| (q.percentile(), q.period)).collect();
    groups.sort();
    groups.dedup();
    let mut calls = Vec::new();
    for (percentile, own_period) in groups {
        let group: Vec<(usize, &QuerySpec)> = queries
            .iter()
            .enumerate()
            .filter(|(_, q)| q.percentile() == percentile && q.period == own_period)
            .collect();
        let start_ms = match own_period {
            Some(p) => start_ms.min(end_ms - 3 * i64::from(p) * 1000),
            None => start_ms,
        };
        for chunk in group.chunks(MAX_QUERIES) {
            let request = client
                .get_metric_data()
                .set_metric_data_queries(Some(chunk.iter().map(|(i, q)| to_query(*i, q, period)).collect()))
                .start_time(aws_smithy_types::DateTime::from_millis(start_ms))
                .end_time(aws_smithy_types::DateTime::from_millis(end_ms));
            calls.push(async move { (percentile, request.into_paginator().send().try_collect().await) });
        }
    }
    for (percentile, result) in futures::future::join_all(calls).await {
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
    for v in values.values_mut() {
        v.sort_by_key(|(t, _)| *t);
    }
    (values, notes)
}

/// Points of several series summed per timestamp.
fn sum_by_time<'a>(series: impl Iterator<Item = &'a Vec<(i64, f64)>>) -> Vec<(i64, f64)> {
    let mut by_t: std::collections::BTreeMap<i64, f64> = std::collections::BTreeMap::new();
    for points in series {
        for (t, v) in points {
            *by_t.entry(*t).or_default() += v;
        }
    }
    by_t.into_iter().collect()
}

/// The series of one chart: queries with the same label are summed per timestamp (one line for
/// "errors of every function"); a ratio chart is one line, 100 × numerators ÷ denominators at each
/// timestamp where the denominator is not zero (what the metric math `100*(a+b)/r` computes).
fn series_of(spec: &ChartSpec, mine: &[(usize, &QuerySpec)], values: &HashMap<usize, Vec<(i64, f64)>>) -> Vec<Series> {
    if let Some((label, key)) = spec.ratio {
        let mut out: Vec<Series> = ratio(mine, values, |_| true)
            .map(|points| Series {
                label: label.to_string(),
                key: key.map(str::to_string),
                points,
            })
            .into_iter()
            .collect();
        if let Some(each_key) = spec.ratio_each {
            let mut labels: Vec<&str> = mine.iter().map(|(_, q)| q.label.as_str()).collect();
            labels.sort();
            labels.dedup();
            let mut each: Vec<Series> = labels
                .into_iter()
                .filter_map(|l| {
                    ratio(mine, values, |q| q.label == l).map(|points| Series {
                        label: l.to_string(),
                        key: Some(each_key.to_string()),
                        points,
                    })
                })
                .collect();
            let peak = |s: &Series| s.points.iter().map(|(_, v)| *v).fold(0.0, f64::max);
            each.sort_by(|a, b| peak(b).total_cmp(&peak(a)));
            each.truncate(super::charts::TOP_SERIES);
            out.extend(each);
        }
        return out;
    }
    let mut labels: Vec<(&str, Option<&'static str>)> = Vec::new();
    for (_, q) in mine {
        if !labels.iter().any(|(l, _)| *l == q.label) {
            labels.push((&q.label, q.key));
        }
    }
    labels
        .into_iter()
        .filter_map(|(label, key)| {
            let parts: Vec<&Vec<(i64, f64)>> = mine
                .iter()
                .filter(|(_, q)| q.label == label)
                .filter_map(|(i, _)| values.get(i))
                .collect();
            (!parts.is_empty()).then(|| Series {
                label: label.to_string(),
                key: key.map(str::to_string),
                points: sum_by_time(parts.into_iter()),
            })
        })
        .collect()
}

/// 100 × the numerators ÷ the denominators of the queries `pick` keeps, per timestamp where the
/// denominator is not zero; None when either side has no data.
fn ratio(
    mine: &[(usize, &QuerySpec)],
    values: &HashMap<usize, Vec<(i64, f64)>>,
    pick: impl Fn(&QuerySpec) -> bool,
) -> Option<Vec<(i64, f64)>> {
    let side = |role: Role| {
        let parts: Vec<&Vec<(i64, f64)>> = mine
            .iter()
            .filter(|(_, q)| q.role == role && pick(q))
            .filter_map(|(i, _)| values.get(i))
            .collect();
        (!parts.is_empty()).then(|| sum_by_time(parts.into_iter()))
    };
    let (num, den) = (side(Role::Numerator)?, side(Role::Denominator)?);
    let num: HashMap<i64, f64> = num.into_iter().collect();
    Some(
        den.into_iter()
            .filter(|(_, d)| *d > 0.0)
            .map(|(t, d)| (t, 100.0 * num.get(&t).copied().unwrap_or(0.0) / d))
            .collect(),
    )
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
            let series = series_of(spec, &mine, values);
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
                totals: totals(spec, &mine, values),
            }
        })
        .collect()
}

/// The range's sums a check weighs (`ChartSpec::totals`): of everything, and per query label.
fn totals(
    spec: &ChartSpec,
    mine: &[(usize, &QuerySpec)],
    values: &HashMap<usize, Vec<(i64, f64)>>,
) -> Vec<(String, String, f64)> {
    let Some((num_key, den_key)) = spec.totals else {
        return vec![];
    };
    let sum = |role: Role, label: Option<&str>| -> f64 {
        mine.iter()
            .filter(|(_, q)| q.role == role && label.is_none_or(|l| q.label == l))
            .filter_map(|(i, _)| values.get(i))
            .flat_map(|points| points.iter().map(|(_, v)| *v))
            .sum()
    };
    let mut labels: Vec<&str> = mine.iter().map(|(_, q)| q.label.as_str()).collect();
    labels.sort();
    labels.dedup();
    let mut out = vec![
        (num_key.to_string(), String::new(), sum(Role::Numerator, None)),
        (den_key.to_string(), String::new(), sum(Role::Denominator, None)),
    ];
    for l in labels {
        out.push((num_key.to_string(), l.to_string(), sum(Role::Numerator, Some(l))));
        out.push((den_key.to_string(), l.to_string(), sum(Role::Denominator, Some(l))));
    }
    out
}

/// A schedule's last run and its failed invocations in the last hour, from its chart (the rules
/// charted, `charts::PER_KIND` of them).
pub fn last_runs(resources: &mut [crate::model::Resource], charts: &[Chart]) {
    for r in resources
        .iter_mut()
        .filter(|r| r.kind == crate::model::ResourceKind::EventBridgeRule)
    {
        let Some(chart) = charts.iter().find(|c| c.title == format!("Runs — {}", r.name)) else {
            continue;
        };
        let series = |label: &str| chart.series.iter().find(|s| s.label == label);
        let last = series("invocations").and_then(|s| s.points.iter().rev().find(|(_, v)| *v > 0.0));
        r.details.push((
            "last run".into(),
            match last {
                Some((t, _)) => super::when(&aws_smithy_types::DateTime::from_millis(*t)),
                None => "not in the last hour".into(),
            },
        ));
        let failed: f64 = series("failed")
            .map(|s| s.points.iter().map(|(_, v)| v).sum())
            .unwrap_or(0.0);
        if failed > 0.0 {
            r.details.push(("failed invocations (1 h)".into(), format!("{failed}")));
            if r.health == crate::model::Health::Healthy {
                r.health = crate::model::Health::Degraded;
            }
        }
    }
}

/// The environment page's "current figures": the latest datapoint of each chart's headline
/// series (charts.rs says which), as the demo shows them.
pub fn gauges(specs: &[ChartSpec], charts: &[Chart]) -> Vec<Gauge> {
    specs
        .iter()
        .zip(charts)
        .filter_map(|(spec, chart)| {
            let label = spec.gauge?;
            let series = chart.series.iter().find(|s| s.label == label)?;
            let (_, v) = series.points.last()?;
            let subject = chart.title.split(" — ").nth(1).unwrap_or(&chart.title);
            Some(Gauge {
                label: format!("{label} — {subject}"),
                value: (v * 100.0).round() / 100.0,
                unit: chart.unit.clone(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::charts::PER_KIND;
    use super::*;
    use crate::model::{Resource, ResourceKind};
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
                            .values(
                                match q.metric_stat().and_then(|m| m.metric()).and_then(|m| m.metric_name()) {
                                    Some("Errors" | "HTTPCode_Target_5XX_Count" | "HTTPCode_ELB_5XX_Count") => 2.0,
                                    _ => 60.0,
                                },
                            )
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
            inv.series.iter().find(|s| s.label == "errors").map(|s| s.points[0].1),
            Some(2.0)
        );
        // Every function: the error rate of all of them (100 × 6 errors ÷ 180 invocations) and of
        // each, keyed for the error-rate check.
        let all = out
            .iter()
            .find(|c| c.title == "Lambda error rate — all 3 functions")
            .ok_or("all functions")?;
        let of = |key: &str| {
            all.series
                .iter()
                .filter(|s| s.key.as_deref() == Some(key))
                .map(|s| s.points[0].1)
                .collect::<Vec<_>>()
        };
        assert_eq!(of("lambda_error_rate").len(), 1);
        assert!((of("lambda_error_rate")[0] - 600.0 / 180.0).abs() < 1e-9, "{all:?}");
        assert_eq!(of("lambda_fn_error_rate").len(), 3, "one line per function");
        // The load balancer's error rate: 100 × (target + ELB 5xx) ÷ requests = 100 × 4 ÷ 60.
        let rate = out
            .iter()
            .find(|c| c.title.starts_with("Error rate"))
            .ok_or("error rate")?;
        assert_eq!(rate.series.len(), 1);
        assert!((rate.series[0].points[0].1 - 400.0 / 60.0).abs() < 1e-9, "{rate:?}");
        Ok(())
    }

    #[tokio::test]
    async fn every_function_is_read_in_calls_of_at_most_500_queries() {
        let (_, queries) = plan(&lambdas(300), 60);
        let plain = mock!(Client::get_metric_data)
            .match_requests(|r| r.metric_data_queries().len() <= MAX_QUERIES)
            .then_output(|| GetMetricDataOutput::builder().build());
        let client = mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, [&plain]);
        let (_, notes) = fetch(&client, &queries, 60, 1_799_996_400_000, 1_800_000_000_000).await;
        assert!(notes.is_empty(), "{notes:?}");
        let plain_queries = queries.iter().filter(|q| !q.percentile()).count();
        assert!(plain_queries > MAX_QUERIES);
        assert_eq!(
            plain.num_calls(),
            plain_queries.div_ceil(MAX_QUERIES) + 1,
            "plain statistics in full batches of 500, then one call of percentiles"
        );
    }

    #[test]
    fn a_large_account_is_charted_a_few_resources_per_kind_and_every_function_is_summed() {
        let (charts, queries) = plan(&lambdas(200), 60);
        assert_eq!(
            charts.len(),
            PER_KIND * 2 + 1,
            "invocations and duration per charted function, and one chart of all"
        );
        assert_eq!(queries.len(), PER_KIND * 6 + 200 * 2);
        let every = queries
            .iter()
            .filter(|q| q.role == Role::Numerator && q.metric == "Errors")
            .count();
        assert_eq!(every, 200, "the error-rate check reads every function");
    }
}
