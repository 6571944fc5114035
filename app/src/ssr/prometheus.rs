//! Prometheus text exposition, hand-written: a few counters and one latency histogram. Every label
//! value comes from a fixed set (HTTP methods outside the standard ones are counted as `other`), so
//! no request can add a series.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

const BUCKETS: [f64; 11] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

/// The HTTP methods with a series of their own; any other method is counted as `other`.
const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"];

/// The request-metric label of a method: its name when standard, else `other`.
pub fn method_label(method: &str) -> &'static str {
    METHODS.iter().find(|m| **m == method).copied().unwrap_or("other")
}

/// Refusals of anonymous requests, counted in `/metrics` and audited at most
/// `http.audited_refusals_per_minute` times a minute per kind (the rest only counted), so that a
/// flood of them can neither grow the audit log without bound nor hold up the audit lock that
/// every approval takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Refusal {
    /// A cross-site write refused by the CSRF layer.
    Csrf,
    /// An OIDC callback refused (bad state, replay, rejected token…).
    LoginFailed,
    /// A `next` after login that is not a local path.
    NextRejected,
}

impl Refusal {
    pub const ALL: [Refusal; 3] = [Refusal::Csrf, Refusal::LoginFailed, Refusal::NextRejected];

    /// The audit action (and the `kind` label of the counters).
    pub fn action(self) -> &'static str {
        match self {
            Refusal::Csrf => "csrf.refused",
            Refusal::LoginFailed => "login.failed",
            Refusal::NextRejected => "login.next_rejected",
        }
    }
}

/// One kind's counts: all of them, those left out of the audit log, and the current minute.
#[derive(Default)]
struct RefusalCounts {
    total: u64,
    unaudited: u64,
    window_start_ms: i64,
    audited_in_window: u32,
    /// Left unaudited since the last audited refusal of this kind.
    skipped_since_audit: u64,
}

#[derive(Default)]
pub struct Metrics {
    /// (method, status class) -> histogram of seconds.
    requests: Mutex<BTreeMap<(String, String), Histogram>>,
    /// (service, operation, outcome) -> count.
    aws_calls: Mutex<BTreeMap<(String, String, String), u64>>,
    cache_hits: AtomicU64,
    cache_misses: AtomicU64,
    audit_appends: AtomicU64,
    audit_failures: AtomicU64,
    /// Outbox messages not delivered yet, as last seen by the outbox job.
    outbox_depth: std::sync::atomic::AtomicI64,
    refusals: Mutex<BTreeMap<Refusal, RefusalCounts>>,
}

impl Metrics {
    pub fn observe_request(&self, method: &str, status: u16, seconds: f64) {
        let class = format!("{}xx", status / 100);
        let mut map = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        let h = map.entry((method_label(method).to_string(), class)).or_default();
        for (i, b) in BUCKETS.iter().enumerate() {
            if seconds <= *b {
                h.counts[i] += 1;
            }
        }
        h.sum += seconds;
        h.count += 1;
    }

    pub fn count_aws_call(&self, service: &str, operation: &str, outcome: &str) {
        let mut map = self.aws_calls.lock().unwrap_or_else(|p| p.into_inner());
        *map.entry((service.into(), operation.into(), outcome.into()))
            .or_default() += 1;
    }

    /// AWS call attempts so far: all of them, or those of one operation.
    pub fn aws_calls(&self, operation: Option<&str>) -> u64 {
        let map = self.aws_calls.lock().unwrap_or_else(|p| p.into_inner());
        map.iter()
            .filter(|((_, o, _), _)| operation.is_none_or(|op| op == o))
            .map(|(_, n)| *n)
            .sum()
    }

    pub fn cache(&self, hit: bool) {
        if hit { &self.cache_hits } else { &self.cache_misses }.fetch_add(1, Ordering::Relaxed);
    }

    pub fn set_outbox_depth(&self, depth: i64) {
        self.outbox_depth.store(depth, Ordering::Relaxed);
    }

    pub fn outbox_depth(&self) -> i64 {
        self.outbox_depth.load(Ordering::Relaxed)
    }

    pub fn audit(&self, ok: bool) {
        if ok { &self.audit_appends } else { &self.audit_failures }.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a refusal of `kind` at `now_ms`. `Some(n)` when it is to be audited (`n`: refusals
    /// of this kind left unaudited since the last audited one, for its detail); `None` when this
    /// minute's budget of `per_minute` audited refusals of this kind is spent.
    pub fn refusal(&self, kind: Refusal, now_ms: i64, per_minute: u32) -> Option<u64> {
        let mut map = self.refusals.lock().unwrap_or_else(|p| p.into_inner());
        let c = map.entry(kind).or_default();
        c.total += 1;
        if now_ms - c.window_start_ms >= 60_000 || now_ms < c.window_start_ms {
            c.window_start_ms = now_ms;
            c.audited_in_window = 0;
        }
        if c.audited_in_window < per_minute {
            c.audited_in_window += 1;
            Some(std::mem::take(&mut c.skipped_since_audit))
        } else {
            c.unaudited += 1;
            c.skipped_since_audit += 1;
            None
        }
    }

    /// (all, unaudited) refusals of `kind` so far.
    pub fn refusals(&self, kind: Refusal) -> (u64, u64) {
        let map = self.refusals.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&kind).map(|c| (c.total, c.unaudited)).unwrap_or((0, 0))
    }

    /// The exposition text; `gauges` are (name, help, value) read at scrape time.
    pub fn render(&self, gauges: &[(&str, &str, f64)]) -> String {
        let mut out = String::new();
        out.push_str("# HELP ops_console_http_request_duration_seconds Request latency.\n");
        out.push_str("# TYPE ops_console_http_request_duration_seconds histogram\n");
        {
            let map = self.requests.lock().unwrap_or_else(|p| p.into_inner());
            for ((method, class), h) in map.iter() {
                let l = format!("method=\"{method}\",status=\"{class}\"");
                for (i, b) in BUCKETS.iter().enumerate() {
                    let _ = writeln!(
                        out,
                        "ops_console_http_request_duration_seconds_bucket{{{l},le=\"{b}\"}} {}",
                        h.counts[i]
                    );
                }
                let _ = writeln!(
                    out,
                    "ops_console_http_request_duration_seconds_bucket{{{l},le=\"+Inf\"}} {}",
                    h.count
                );
                let _ = writeln!(out, "ops_console_http_request_duration_seconds_sum{{{l}}} {}", h.sum);
                let _ = writeln!(
                    out,
                    "ops_console_http_request_duration_seconds_count{{{l}}} {}",
                    h.count
                );
            }
        }
        out.push_str("# HELP ops_console_aws_calls_total AWS API calls by service, operation and outcome.\n");
        out.push_str("# TYPE ops_console_aws_calls_total counter\n");
        {
            let map = self.aws_calls.lock().unwrap_or_else(|p| p.into_inner());
            for ((s, o, r), n) in map.iter() {
                let _ = writeln!(
                    out,
                    "ops_console_aws_calls_total{{service=\"{s}\",operation=\"{o}\",outcome=\"{r}\"}} {n}"
                );
            }
        }
        for (name, help, unaudited) in [
            (
                "ops_console_refusals_total",
                "Refused anonymous requests by kind (CSRF, failed login, rejected next).",
                false,
            ),
            (
                "ops_console_refusals_unaudited_total",
                "Refusals counted but not audited (over http.audited_refusals_per_minute).",
                true,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for kind in Refusal::ALL {
                let (total, skipped) = self.refusals(kind);
                let n = if unaudited { skipped } else { total };
                let _ = writeln!(out, "{name}{{kind=\"{}\"}} {n}", kind.action());
            }
        }
        let counters = [
            (
                "ops_console_cache_hits_total",
                "Inventory cache hits.",
                &self.cache_hits,
            ),
            (
                "ops_console_cache_misses_total",
                "Inventory cache misses.",
                &self.cache_misses,
            ),
            (
                "ops_console_audit_appends_total",
                "Audit entries written.",
                &self.audit_appends,
            ),
            (
                "ops_console_audit_failures_total",
                "Audit entries that could not be written (the action was refused).",
                &self.audit_failures,
            ),
        ];
        for (name, help, v) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                v.load(Ordering::Relaxed)
            );
        }
        for (name, help, v) in gauges {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::default();
        m.observe_request("GET", 200, 0.02);
        m.observe_request("GET", 204, 3.0);
        m.count_aws_call("ecs", "ListClusters", "ok");
        let text = m.render(&[("ops_console_grants_active", "Active grants.", 0.0)]);
        assert!(
            text.contains("bucket{method=\"GET\",status=\"2xx\",le=\"0.025\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("bucket{method=\"GET\",status=\"2xx\",le=\"5\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("ops_console_aws_calls_total{service=\"ecs\",operation=\"ListClusters\",outcome=\"ok\"} 1")
        );
        assert!(text.contains("ops_console_grants_active 0"));
    }

    #[test]
    fn made_up_methods_share_one_series() {
        let m = Metrics::default();
        for i in 0..100 {
            m.observe_request(&format!("X{i}"), 405, 0.001);
        }
        m.observe_request("POST", 200, 0.001);
        let text = m.render(&[]);
        let series = text
            .lines()
            .filter(|l| l.starts_with("ops_console_http_request_duration_seconds_count"))
            .count();
        assert_eq!(series, 2, "{text}");
        assert!(text.contains("count{method=\"other\",status=\"4xx\"} 100"), "{text}");
        assert!(!text.contains("X1"), "{text}");
    }

    #[test]
    fn refusals_are_audited_up_to_the_budget_per_minute_and_all_counted() {
        let m = Metrics::default();
        let t = 1_000_000;
        let audited: Vec<Option<u64>> = (0..5).map(|i| m.refusal(Refusal::Csrf, t + i, 3)).collect();
        assert_eq!(audited, vec![Some(0), Some(0), Some(0), None, None]);
        // Another kind has its own budget.
        assert_eq!(m.refusal(Refusal::LoginFailed, t, 3), Some(0));
        // A minute later the budget is back, and the first audited one says how many were skipped.
        assert_eq!(m.refusal(Refusal::Csrf, t + 60_000, 3), Some(2));
        assert_eq!(m.refusal(Refusal::Csrf, t + 60_001, 3), Some(0));
        assert_eq!(m.refusals(Refusal::Csrf), (7, 2));
        let text = m.render(&[]);
        assert!(
            text.contains("ops_console_refusals_total{kind=\"csrf.refused\"} 7"),
            "{text}"
        );
        assert!(
            text.contains("ops_console_refusals_unaudited_total{kind=\"csrf.refused\"} 2"),
            "{text}"
        );
        assert!(text.contains("ops_console_refusals_total{kind=\"login.next_rejected\"} 0"));
        // A budget of 0 audits none.
        assert_eq!(m.refusal(Refusal::NextRejected, t, 0), None);
    }
}
