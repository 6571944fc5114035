//! The status check of an environment (the checks an operator's `status.sh` ran, docs/STATUS.md),
//! one implementation shared by
//! `ops-console status` and the environment page. docs/STATUS.md has the table of checks → levels
//! and the JSON schema. A check whose data the endpoint cannot give is reported as not available
//! and never raises the level; the level is `unknown` (exit 3) only when nothing could be read.

use super::cloud::BackupsData;
use super::state::{AppState, EnvMeta};
use crate::model::{
    AlarmState, Chart, Check, DataNote, EnvSummary, Health, Inventory, Level, ResourceKind, StatusReport, TimeRange,
};

/// Lambda error rate above this (percent) is degraded (docs/STATUS.md).
pub const LAMBDA_ERROR_RATE_PCT: f64 = 1.0;
/// API 5xx rate above this (percent) is degraded, where only a rate is known.
pub const API_5XX_RATE_PCT: f64 = 1.0;
/// Failed backup jobs this recent count.
const RECENT_JOB_MS: i64 = 24 * 3_600_000;

fn check(id: &str, name: &str, level: Level, detail: String) -> Check {
    Check {
        id: id.into(),
        name: name.into(),
        level,
        available: true,
        detail,
    }
}

fn not_available(id: &str, name: &str, detail: String) -> Check {
    Check {
        id: id.into(),
        name: name.into(),
        level: Level::Healthy,
        available: false,
        detail,
    }
}

/// Everything the checks read, gathered once.
pub struct Inputs<'a> {
    pub summary: &'a EnvSummary,
    pub inventory: Option<&'a Inventory>,
    pub charts: Option<&'a [Chart]>,
    pub chart_notes: &'a [DataNote],
    pub backups: Option<&'a BackupsData>,
    pub rpo_hours: Option<u32>,
    pub now_ms: i64,
}

pub fn evaluate(i: &Inputs<'_>) -> StatusReport {
    let mut checks = Vec::new();
    // An environment with a selector whose tagged resources cannot be read: what is its cannot be
    // told, so no check guesses (the others' alarms or functions would count).
    let unscoped = i
        .inventory
        .and_then(|inv| inv.notes.iter().find(|n| n.part == "scope"))
        .map(|n| n.message.clone());
    match unscoped {
        Some(why) => {
            for (id, name) in [
                ("service_state", "Service and stack state"),
                ("active_alarms", "Active alarms"),
                ("ecs_running", "ECS running tasks"),
                ("lambda_error_rate", "Lambda error rate"),
                ("api_5xx", "API Gateway 5xx"),
                ("backups", "Backups missing or failed"),
            ] {
                checks.push(not_available(id, name, why.clone()));
            }
        }
        None => evaluate_scoped(i, &mut checks),
    }
    let level = if checks.iter().all(|c| !c.available) {
        Level::Unknown
    } else {
        checks
            .iter()
            .filter(|c| c.available)
            .map(|c| c.level)
            .max()
            .unwrap_or(Level::Healthy)
    };
    StatusReport {
        environment: i.summary.name.clone(),
        demo: i.summary.demo,
        level,
        exit_code: level.exit_code(),
        checked_at: chrono::DateTime::from_timestamp_millis(i.now_ms)
            .map(|t| t.to_rfc3339())
            .unwrap_or_default(),
        checks,
    }
}

fn evaluate_scoped(i: &Inputs<'_>, checks: &mut Vec<Check>) {
    match i.inventory {
        None => {
            let why = i
                .summary
                .error
                .clone()
                .unwrap_or_else(|| "the environment could not be read".into());
            for (id, name) in [
                ("service_state", "Service and stack state"),
                ("active_alarms", "Active alarms"),
                ("ecs_running", "ECS running tasks"),
            ] {
                checks.push(not_available(id, name, why.clone()));
            }
        }
        Some(inv) => {
            checks.push(service_state(inv));
            checks.push(active_alarms(inv));
            checks.push(ecs_running(inv));
        }
    }
    checks.push(lambda_error_rate(i));
    checks.push(api_5xx(i));
    checks.push(backups(i));
}

fn service_state(inv: &Inventory) -> Check {
    let core = |k: &ResourceKind| {
        matches!(
            k,
            ResourceKind::EcsService
                | ResourceKind::LoadBalancer
                | ResourceKind::RdsInstance
                | ResourceKind::DocDbCluster
                | ResourceKind::DocDbInstance
                | ResourceKind::CloudFormationStack
        )
    };
    let bad: Vec<String> = inv
        .resources
        .iter()
        .filter(|r| core(&r.kind) && matches!(r.health, Health::Unhealthy | Health::Degraded))
        .map(|r| format!("{} {} is {}", r.kind.label(), r.name, r.status))
        .collect();
    // A stack that failed (or whose creation rolled back): its health says so. A stack back on
    // its last good state after a rolled-back update (UPDATE_ROLLBACK_COMPLETE) works: degraded.
    let failed_stack = inv
        .resources
        .iter()
        .any(|r| r.kind == ResourceKind::CloudFormationStack && r.health == Health::Unhealthy);
    let unhealthy = failed_stack
        || inv
            .resources
            .iter()
            .any(|r| core(&r.kind) && r.health == Health::Unhealthy);
    let level = if unhealthy {
        Level::Unhealthy
    } else if bad.is_empty() {
        Level::Healthy
    } else {
        Level::Degraded
    };
    let detail = if bad.is_empty() {
        "every service, load balancer, database and stack is up".into()
    } else {
        bad.join("; ")
    };
    check("service_state", "Service and stack state", level, detail)
}

fn active_alarms(inv: &Inventory) -> Check {
    let firing: Vec<_> = inv.alarms.iter().filter(|a| a.state == AlarmState::Alarm).collect();
    let level = match firing.iter().map(|a| a.severity).min() {
        None => Level::Healthy,
        Some(s) if s.is_major() => Level::Unhealthy,
        Some(_) => Level::Degraded,
    };
    let detail = if firing.is_empty() {
        format!("none of {} alarms is firing", inv.alarms.len())
    } else {
        firing
            .iter()
            .map(|a| format!("{} ({})", a.name, a.severity.label()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    check("active_alarms", "Active alarms", level, detail)
}

fn ecs_running(inv: &Inventory) -> Check {
    let mut short = Vec::new();
    let mut down = false;
    for r in inv.resources.iter().filter(|r| r.kind == ResourceKind::EcsService) {
        if let Some(t) = r.tasks
            && t.running < t.desired
        {
            down |= t.running == 0;
            short.push(format!("{} {}/{}", r.name, t.running, t.desired));
        }
    }
    let level = if down {
        Level::Unhealthy
    } else if short.is_empty() {
        Level::Healthy
    } else {
        Level::Degraded
    };
    let services = inv
        .resources
        .iter()
        .filter(|r| r.kind == ResourceKind::EcsService)
        .count();
    let detail = if short.is_empty() {
        format!("{services} services at their desired count")
    } else {
        format!("running < desired: {}", short.join(", "))
    };
    check("ecs_running", "ECS running tasks", level, detail)
}

/// Sum of the last hour of every series with `key`; None when there is no such series.
fn last_hour(charts: &[Chart], key: &str, now_ms: i64, average: bool) -> Option<f64> {
    let since = now_ms - 3_600_000;
    let points: Vec<f64> = charts
        .iter()
        .flat_map(|c| c.series.iter())
        .filter(|s| s.key.as_deref() == Some(key))
        .flat_map(|s| s.points.iter().filter(|(t, _)| *t >= since).map(|(_, v)| *v))
        .collect();
    let any_series = charts
        .iter()
        .flat_map(|c| c.series.iter())
        .any(|s| s.key.as_deref() == Some(key));
    if !any_series {
        return None;
    }
    let sum: f64 = points.iter().sum();
    Some(if average && !points.is_empty() {
        sum / points.len() as f64
    } else {
        sum
    })
}

fn metrics_unavailable(i: &Inputs<'_>) -> Option<String> {
    match i.charts {
        None => Some("metrics could not be read".into()),
        Some(_) => i
            .chart_notes
            .iter()
            .find(|n| n.part == "metrics")
            .map(|n| n.message.clone()),
    }
}

/// A part of the inventory that could not be read at all (not served stale): the check that
/// needs it cannot say "none" for what it could not see.
fn part_failed(i: &Inputs<'_>, part: &str) -> Option<String> {
    i.inventory?
        .notes
        .iter()
        .find(|n| n.part == part && n.stale_age_s.is_none())
        .map(|n| format!("{part} could not be read: {}", n.message))
}

/// Errors ÷ calls over the range, of everything and of the worst one.
struct Weighed {
    all: f64,
    calls: f64,
    worst: Option<(String, f64)>,
}

fn weighed(charts: &[Chart], num_key: &str, den_key: &str) -> Option<Weighed> {
    let totals: Vec<&(String, String, f64)> = charts.iter().flat_map(|c| c.totals.iter()).collect();
    let get = |key: &str, label: &str| {
        totals
            .iter()
            .find(|(k, l, _)| k == key && l == label)
            .map(|(_, _, v)| *v)
    };
    let (errors, calls) = (get(num_key, "")?, get(den_key, "")?);
    let worst = totals
        .iter()
        .filter(|(k, l, _)| k == den_key && !l.is_empty())
        .filter_map(|(_, l, n)| {
            let e = get(num_key, l)?;
            (*n > 0.0).then(|| (l.clone(), e / n * 100.0))
        })
        .max_by(|a, b| a.1.total_cmp(&b.1));
    Some(Weighed {
        all: if calls > 0.0 { errors / calls * 100.0 } else { 0.0 },
        calls,
        worst,
    })
}

impl Weighed {
    fn check(&self, id: &str, name: &str) -> Check {
        // A sum of no datapoints is -0.0: say it in words.
        let all = if self.calls > 0.0 {
            format!(
                "all functions {:.2} % of {} invocations over the last hour",
                self.all, self.calls
            )
        } else {
            "no invocations over the last hour".to_string()
        };
        match &self.worst {
            Some((f, r)) if *r > LAMBDA_ERROR_RATE_PCT => check(
                id,
                name,
                Level::Degraded,
                format!("{f}: {r:.2} % over the last hour (> {LAMBDA_ERROR_RATE_PCT} %); {all}"),
            ),
            _ if self.all > LAMBDA_ERROR_RATE_PCT => check(
                id,
                name,
                Level::Degraded,
                format!("{all} (> {LAMBDA_ERROR_RATE_PCT} %)"),
            ),
            _ => check(id, name, Level::Healthy, all),
        }
    }
}

fn lambda_error_rate(i: &Inputs<'_>) -> Check {
    let (id, name) = ("lambda_error_rate", "Lambda error rate");
    if let Some(why) = metrics_unavailable(i) {
        return not_available(id, name, why);
    }
    let charts = i.charts.unwrap_or_default();
    if let Some(why) = part_failed(i, "Lambda functions") {
        return not_available(id, name, why);
    }
    // Live: errors and invocations summed over the hour, of every function and of each.
    if let Some(c) = weighed(charts, "lambda_errors", "lambda_invocations") {
        return c.check(id, name);
    }
    let rate = match last_hour(charts, "lambda_error_rate", i.now_ms, true) {
        Some(r) => Some(r),
        None => match (
            last_hour(charts, "lambda_errors", i.now_ms, false),
            last_hour(charts, "lambda_invocations", i.now_ms, false),
        ) {
            (Some(e), Some(n)) if n > 0.0 => Some(e / n * 100.0),
            (Some(_), Some(_)) => Some(0.0),
            _ => None,
        },
    };
    match rate {
        None => check(id, name, Level::Healthy, "no Lambda functions".into()),
        Some(r) if r > LAMBDA_ERROR_RATE_PCT => check(
            id,
            name,
            Level::Degraded,
            format!("{r:.2} % over the last hour (> {LAMBDA_ERROR_RATE_PCT} %)"),
        ),
        Some(r) => check(id, name, Level::Healthy, format!("{r:.2} % over the last hour")),
    }
}

fn api_5xx(i: &Inputs<'_>) -> Check {
    let (id, name) = ("api_5xx", "API Gateway 5xx");
    if let Some(why) = metrics_unavailable(i) {
        return not_available(id, name, why);
    }
    if let Some(why) = part_failed(i, "API Gateway") {
        return not_available(id, name, why);
    }
    let charts = i.charts.unwrap_or_default();
    if let Some(rate) = last_hour(charts, "api_5xx_rate", i.now_ms, true) {
        let level = if rate > API_5XX_RATE_PCT {
            Level::Degraded
        } else {
            Level::Healthy
        };
        return check(id, name, level, format!("{rate:.2} % of requests over the last hour"));
    }
    let requests = last_hour(charts, "api_requests", i.now_ms, false);
    match (last_hour(charts, "api_5xx", i.now_ms, false), requests) {
        (Some(n), Some(r)) if r > 0.0 => {
            let rate = n / r * 100.0;
            let level = if rate > API_5XX_RATE_PCT {
                Level::Degraded
            } else {
                Level::Healthy
            };
            check(
                id,
                name,
                level,
                format!("{n} 5xx of {r} requests in the last hour ({rate:.2} %)"),
            )
        }
        (n, _) => api_5xx_count(id, name, n),
    }
}

/// Where no request count is known, any 5xx in the hour is worth a look.
fn api_5xx_count(id: &str, name: &str, n: Option<f64>) -> Check {
    match n {
        None => check(id, name, Level::Healthy, "no API Gateway APIs".into()),
        Some(n) if n > 0.0 => check(id, name, Level::Degraded, format!("{n} 5xx responses in the last hour")),
        Some(_) => check(id, name, Level::Healthy, "no 5xx responses in the last hour".into()),
    }
}

fn backups(i: &Inputs<'_>) -> Check {
    let (id, name) = ("backups", "Backups missing or failed");
    let Some(b) = i.backups else {
        return not_available(id, name, "backups could not be read".into());
    };
    if let Some(n) = b.notes.iter().find(|n| n.part == "backups") {
        return not_available(id, name, n.message.clone());
    }
    let mut problems = Vec::new();
    let mut level = Level::Healthy;
    let mut available = false;
    if let Some(jobs) = &b.jobs {
        available = true;
        let failed: Vec<_> = jobs
            .iter()
            .filter(|j| {
                matches!(j.state.as_str(), "FAILED" | "ABORTED" | "EXPIRED") && i.now_ms - j.created_ms <= RECENT_JOB_MS
            })
            .collect();
        if !failed.is_empty() {
            level = level.max(Level::Degraded);
            problems.push(format!("{} failed job(s) in 24 h: {}", failed.len(), failed[0].message));
        }
    }
    if let Some(points) = &b.recovery_points {
        available = true;
        let rpo = i
            .rpo_hours
            .map(|h| format!("{h} h"))
            .unwrap_or_else(|| "24 h (default)".into());
        for p in points.iter().filter(|p| p.late) {
            match p.last_ms {
                None => {
                    level = level.max(Level::Unhealthy);
                    problems.push(format!("{} has no recovery point", p.resource));
                }
                Some(t) => {
                    level = level.max(Level::Degraded);
                    let age_h = (i.now_ms - t) / 3_600_000;
                    problems.push(format!(
                        "{}: newest recovery point is {age_h} h old (RPO {rpo})",
                        p.resource
                    ));
                }
            }
        }
    }
    if !available {
        let why = b.notes.iter().map(|n| n.message.clone()).collect::<Vec<_>>().join("; ");
        return not_available(
            id,
            name,
            if why.is_empty() {
                "no jobs or recovery points".into()
            } else {
                why
            },
        );
    }
    let detail = if problems.is_empty() && b.plans.is_empty() && b.recovery_points.as_ref().is_none_or(Vec::is_empty) {
        "no backup plans or protected resources".to_string()
    } else if problems.is_empty() {
        format!(
            "{} plan(s); no failed jobs, every protected resource within its RPO",
            b.plans.len()
        )
    } else {
        problems.join("; ")
    };
    check(id, name, level, detail)
}

/// Reads what the checks need and evaluates them: the one implementation behind the page and
/// `ops-console status`.
pub async fn run(state: &AppState, meta: &EnvMeta) -> StatusReport {
    let now = crate::ssr::clock::now();
    let detail = state.detail(meta).await;
    let rpo = state.rpo_hours(meta);
    // An environment of which nothing could be read has no inventory to check.
    let inventory = if detail.summary.error.is_some() {
        None
    } else {
        detail.inventory.as_ref()
    };
    // Metrics and backups in parallel; neither is asked of an environment that could not be read
    // at all (it would only wait for the same dead endpoint again).
    let cloud = state.cloud(meta);
    let metrics = async {
        match inventory {
            Some(inv) => match cloud.metrics(&meta.name, inv, TimeRange::H1, now).await {
                Ok((c, n)) => (Some(c), n),
                Err(e) => (
                    None,
                    vec![DataNote {
                        part: "metrics".into(),
                        message: e.to_string(),
                        stale_age_s: None,
                    }],
                ),
            },
            None => (None, vec![]),
        }
    };
    let backups = async {
        match inventory {
            Some(_) => cloud.backups(&meta.name, rpo, now).await.ok(),
            None => None,
        }
    };
    let ((charts, chart_notes), backups) = tokio::join!(metrics, backups);
    evaluate(&Inputs {
        summary: &detail.summary,
        inventory,
        charts: charts.as_deref(),
        chart_notes: &chart_notes,
        backups: backups.as_ref(),
        rpo_hours: rpo,
        now_ms: now,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Tier;

    fn summary() -> EnvSummary {
        EnvSummary {
            name: "staging".into(),
            tier: Tier::Staging,
            region: "eu-west-1".into(),
            account_id: None,
            demo: false,
            description: String::new(),
            health: Health::Healthy,
            services: 0,
            tasks_running: 0,
            tasks_desired: 0,
            alarms_firing: 0,
            resources: 0,
            error: None,
            data_notes: 0,
        }
    }

    fn lambda_chart(totals: &[(&str, &str, f64)]) -> Chart {
        Chart {
            title: "Lambda error rate — all 2 functions".into(),
            unit: "%".into(),
            series: vec![],
            threshold: None,
            note: None,
            totals: totals
                .iter()
                .map(|(k, l, v)| (k.to_string(), l.to_string(), *v))
                .collect(),
        }
    }

    fn run(inv: &Inventory, charts: &[Chart]) -> StatusReport {
        evaluate(&Inputs {
            summary: &summary(),
            inventory: Some(inv),
            charts: Some(charts),
            chart_notes: &[],
            backups: None,
            rpo_hours: None,
            now_ms: 0,
        })
    }

    fn inv(notes: Vec<DataNote>) -> Inventory {
        Inventory {
            resources: vec![],
            alarms: vec![],
            gauges: vec![],
            fetched_ms: 0,
            notes,
        }
    }

    /// The Lambda check (a missing one has the id "missing").
    fn lambda(r: &StatusReport) -> Check {
        r.checks
            .iter()
            .find(|c| c.id == "lambda_error_rate")
            .cloned()
            .unwrap_or_else(|| not_available("missing", "missing", "no Lambda check".into()))
    }

    #[test]
    fn the_lambda_rate_weighs_calls_not_minutes() {
        // One busy minute at 50 % and many quiet minutes of one good call: 50 %, not the mean of
        // per-minute ratios.
        let busy = lambda_chart(&[
            ("lambda_errors", "", 5000.0),
            ("lambda_invocations", "", 10_059.0),
            ("lambda_errors", "busy", 5000.0),
            ("lambda_invocations", "busy", 10_000.0),
            ("lambda_errors", "quiet", 0.0),
            ("lambda_invocations", "quiet", 59.0),
        ]);
        let r = run(&inv(vec![]), &[busy]);
        assert_eq!(lambda(&r).level, Level::Degraded);
        assert!(lambda(&r).detail.starts_with("busy: 50.00 %"), "{}", lambda(&r).detail);
        // No errors anywhere: healthy.
        let quiet = lambda_chart(&[
            ("lambda_errors", "", 0.0),
            ("lambda_invocations", "", 10_000.0),
            ("lambda_errors", "busy", 0.0),
            ("lambda_invocations", "busy", 10_000.0),
        ]);
        assert_eq!(lambda(&run(&inv(vec![]), &[quiet])).level, Level::Healthy);
    }

    #[test]
    fn a_part_that_could_not_be_read_is_not_none_of_it() {
        let refused = DataNote {
            part: "Lambda functions".into(),
            message: "HTTP 403 AccessDeniedException".into(),
            stale_age_s: None,
        };
        let r = run(&inv(vec![refused]), &[]);
        assert_eq!(lambda(&r).id, "lambda_error_rate");
        assert!(!lambda(&r).available, "{:?}", lambda(&r));
        let scope = DataNote {
            part: "scope".into(),
            message: "cannot be told".into(),
            stale_age_s: None,
        };
        let r = run(&inv(vec![scope]), &[]);
        assert!(r.checks.iter().all(|c| !c.available));
        assert_eq!((r.level, r.exit_code), (Level::Unknown, 3));
    }
}
