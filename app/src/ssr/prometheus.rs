//! Prometheus text exposition, hand-written: a few counters and one latency histogram.

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
}

impl Metrics {
    pub fn observe_request(&self, method: &str, status: u16, seconds: f64) {
        let class = format!("{}xx", status / 100);
        let mut map = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        let h = map.entry((method.to_string(), class)).or_default();
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
}
