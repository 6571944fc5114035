//! Metric charts of the demo environments: the readings of the simulation sampled once per period.

use super::readings_at;
use super::sim::{Sim, round2};
use crate::model::{Chart, Series, TimeRange};

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
                    totals: vec![],
                }),
            }
        }
        t += period_ms;
    }
    Some(charts)
}
