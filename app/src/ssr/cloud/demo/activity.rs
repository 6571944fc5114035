//! Simulated logs, CloudTrail events and Logs Insights answers of the demo systems (issue 16,
//! item 4). Deterministic in the clock, like the rest of the demo: a line written at an instant
//! reads the same on every replica and on every read, so a pinned line can be checked again.
//! Every message says it is demo data.

use crate::model::{Change, ChangeSource, LogLine, ResourceKind};
use crate::ssr::cloud::{CloudError, InsightsRead, LogPlace, LogTarget};
use std::sync::Mutex;

/// A simulated stream writes one line every this many milliseconds.
const STEP_MS: i64 = 20_000;

fn mix(mut x: u64) -> u64 {
    // splitmix64: a fixed scramble, so the lines look varied and stay deterministic.
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn hash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

pub fn place(target: &LogTarget<'_>) -> Result<LogPlace, CloudError> {
    let r = target.resource;
    Ok(match (&r.kind, target.task) {
        (ResourceKind::Lambda, _) => LogPlace::group(format!("/aws/lambda/{}", r.name)),
        (ResourceKind::EcsService, task) => {
            let cluster = r.service.as_ref().map(|s| s.cluster.clone()).unwrap_or_default();
            let mut p = LogPlace::group(format!("/ecs/{cluster}"));
            match task {
                Some(t) => p.streams = vec![format!("ecs/{}/{}", r.name, t.id)],
                None => p.prefix = Some(format!("ecs/{}/", r.name)),
            }
            p
        }
        (ResourceKind::ApiGateway, _) => LogPlace::group(format!("/aws/apigateway/{}/access", r.name)),
        (ResourceKind::EventBridgeRule, _) => LogPlace::group(format!("/aws/events/{}", r.name)),
        (other, _) => {
            return Err(CloudError::NotAvailable(format!(
                "the console reads no logs of a {}",
                other.label()
            )));
        }
    })
}

/// The streams a place writes to: its named streams, else two under its prefix or group.
fn streams(place: &LogPlace) -> Vec<String> {
    if !place.streams.is_empty() {
        return place.streams.clone();
    }
    let base = place.prefix.clone().unwrap_or_else(|| "2026/12/01/[$LATEST]".into());
    (0..2)
        .map(|i| format!("{base}{:016x}", mix(hash(&place.group) + i)))
        .collect()
}

/// The message a stream writes at `t_ms`.
fn message(group: &str, t_ms: i64, n: u64) -> String {
    let h = mix(hash(group) ^ t_ms as u64 ^ n);
    let ms = 20 + h % 900;
    let req = format!("{:08x}-{:04x}", h >> 32, h & 0xffff);
    // A function or service whose alarm the demo keeps firing errs more often.
    let errs = if group.contains("document-processing") { 4 } else { 23 };
    let bad = h.is_multiple_of(errs);
    if group.starts_with("/aws/lambda/") {
        if bad {
            format!("[ERROR] {req} Task timed out after 30.00 seconds (demo)")
        } else {
            format!("[INFO] {req} processed item in {ms} ms (demo)")
        }
    } else if group.starts_with("/aws/apigateway/") {
        let status = if bad { 502 } else { 200 };
        format!(
            "{{\"requestId\":\"{req}\",\"httpMethod\":\"POST\",\"path\":\"/v1/align\",\"status\":{status},\"latencyMs\":{ms},\"demo\":true}}"
        )
    } else if group.starts_with("/aws/events/") {
        format!("{{\"detail-type\":\"Scheduled Event\",\"id\":\"{req}\",\"source\":\"aws.events\",\"demo\":true}}")
    } else if bad {
        format!("level=error msg=\"upstream timeout after {ms}ms\" request_id={req} (demo)")
    } else {
        format!("level=info msg=\"GET /api/tasks 200\" duration_ms={ms} request_id={req} (demo)")
    }
}

/// CloudWatch Logs filter patterns, as far as the demo needs: terms that must all appear,
/// `"quoted phrases"`, `-term` to exclude, `?term` of which one must appear.
fn matches(pattern: &str, message: &str) -> bool {
    let mut any: Vec<String> = Vec::new();
    let mut rest = pattern.trim();
    while !rest.is_empty() {
        let (term, next) = if let Some(q) = rest.strip_prefix('"') {
            let end = q.find('"').unwrap_or(q.len());
            (format!("\"{}", &q[..end]), q.get(end + 1..).unwrap_or(""))
        } else {
            let end = rest.find(' ').unwrap_or(rest.len());
            (rest[..end].to_string(), &rest[end..])
        };
        rest = next.trim_start();
        let (neg, opt, word) = match term.as_str() {
            t if t.starts_with('-') => (true, false, &t[1..]),
            t if t.starts_with('?') => (false, true, &t[1..]),
            t => (false, false, t),
        };
        let word = word.trim_start_matches('"');
        if word.is_empty() {
            continue;
        }
        let found = message.contains(word);
        if opt {
            any.push(word.to_string());
        } else if found == neg {
            return false;
        }
    }
    any.is_empty() || any.iter().any(|w| message.contains(w.as_str()))
}

pub fn lines(place: &LogPlace, start_ms: i64, end_ms: i64, pattern: &str, limit: usize) -> (Vec<LogLine>, bool) {
    let streams = streams(place);
    let mut out = Vec::new();
    let mut t = end_ms - 1 - (end_ms - 1).rem_euclid(STEP_MS);
    // A tick's later streams write up to this long after it: a tick before the window's start
    // can still have lines in it.
    let spread = (streams.len() as i64 - 1).max(0) * 3_000;
    while t + spread >= start_ms {
        // Newest first: within a tick, the later streams wrote later.
        for (i, s) in streams.iter().enumerate().rev() {
            // Streams write a few seconds apart.
            let at = t + (i as i64) * 3_000;
            if at < start_ms || at >= end_ms {
                continue;
            }
            let m = message(&place.group, at, i as u64);
            if matches(pattern, &m) {
                if out.len() == limit {
                    return (out, true);
                }
                out.push(LogLine {
                    t_ms: at,
                    stream: s.clone(),
                    message: m,
                });
            }
        }
        t -= STEP_MS;
    }
    (out, false)
}

/// A started demo query: (id, place, start, end, query, started at).
type Started = (String, LogPlace, i64, i64, String, i64);

#[derive(Default)]
pub struct DemoQueries(Mutex<Vec<Started>>);

impl DemoQueries {
    pub fn start(&self, place: &LogPlace, start_ms: i64, end_ms: i64, query: &str, now_ms: i64) -> String {
        let id = format!("demo-{:016x}", mix(hash(query) ^ now_ms as u64 ^ hash(&place.group)));
        let mut q = self.0.lock().unwrap_or_else(|p| p.into_inner());
        // The last hundred are kept: the demo is one process.
        if q.len() >= 100 {
            q.remove(0);
        }
        q.push((id.clone(), place.clone(), start_ms, end_ms, query.to_string(), now_ms));
        id
    }

    /// Running for two seconds, then the lines the query's `like /word/` (if any) keeps, newest
    /// first; what it scanned is every line of the window.
    pub fn results(&self, id: &str, now_ms: i64) -> Result<InsightsRead, CloudError> {
        let found = self
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|q| q.0 == id)
            .cloned();
        let Some((_, place, start, end, query, at)) = found else {
            return Err(CloudError::NotAvailable(format!("no demo query {id}")));
        };
        let (all, _) = lines(&place, start, end, "", 100_000);
        let bytes: usize = all.iter().map(|l| l.message.len() + l.stream.len()).sum();
        if now_ms - at < 2_000 {
            return Ok(InsightsRead {
                status: "Running".into(),
                bytes_scanned: (bytes / 2) as f64,
                records_scanned: (all.len() / 2) as f64,
                ..InsightsRead::default()
            });
        }
        let word = query
            .split("like /")
            .nth(1)
            .and_then(|w| w.split('/').next())
            .unwrap_or("");
        let kept: Vec<&LogLine> = all.iter().filter(|l| l.message.contains(word)).collect();
        Ok(InsightsRead {
            status: "Complete".into(),
            columns: vec!["@timestamp".into(), "@message".into()],
            rows: kept
                .iter()
                .take(crate::model::INSIGHTS_MAX_ROWS as usize)
                .map(|l| vec![crate::model::format_ts(l.t_ms), l.message.clone()])
                .collect(),
            bytes_scanned: bytes as f64,
            records_scanned: all.len() as f64,
            records_matched: kept.len() as f64,
        })
    }
}

/// Simulated management events of a demo environment in [from, to): each of its functions,
/// services, stacks and databases is changed at fixed times of a six-hour cycle, by people and
/// by the deploy pipeline.
pub fn trail(inv: &crate::model::Inventory, from_ms: i64, to_ms: i64) -> Vec<Change> {
    const CYCLE: i64 = 6 * 3_600_000;
    let mut out = Vec::new();
    for (i, r) in inv.resources.iter().enumerate() {
        let (what, who, deployment) = match r.kind {
            ResourceKind::Lambda => (
                "lambda UpdateFunctionConfiguration20150331v2",
                "alice@example.com",
                false,
            ),
            ResourceKind::EcsService => ("application-autoscaling PutScalingPolicy", "terraform-ci", false),
            ResourceKind::CloudFormationStack => ("cloudformation UpdateStack", "deploy-pipeline", true),
            ResourceKind::RdsInstance | ResourceKind::DocDbCluster => {
                ("rds ModifyDBInstance", "carol@example.com", false)
            }
            _ => continue,
        };
        let offset = (mix(hash(&r.name)) % (CYCLE as u64)) as i64;
        let mut at = from_ms - from_ms.rem_euclid(CYCLE) + offset;
        while at < to_ms {
            if at >= from_ms {
                out.push(Change {
                    id: String::new(),
                    at_ms: at,
                    source: ChangeSource::CloudTrail,
                    who: format!("{who} (demo)"),
                    what: what.to_string(),
                    resource: r.name.clone(),
                    read_only: false,
                    deployment,
                    error: (i % 7 == 6).then(|| "AccessDenied".to_string()),
                });
            }
            at += CYCLE;
        }
    }
    out.sort_by_key(|c| std::cmp::Reverse(c.at_ms));
    out
}

/// What a demo grant's session did: a call every seven minutes from two minutes after it began,
/// mostly reads, every third one a write.
pub fn session(session: &str, from_ms: i64, to_ms: i64) -> Vec<Change> {
    const CALLS: [(&str, bool); 6] = [
        ("sts GetCallerIdentity", true),
        ("rds DescribeDBInstances", true),
        ("ecs UpdateService", false),
        ("logs FilterLogEvents", true),
        ("cloudwatch GetMetricData", true),
        ("rds RebootDBInstance", false),
    ];
    let mut out = Vec::new();
    let mut at = from_ms + 120_000;
    let mut i = (hash(session) % 3) as usize;
    while at < to_ms && out.len() < 200 {
        let (what, read_only) = CALLS[i % CALLS.len()];
        out.push(Change {
            id: format!("demo-{at}"),
            at_ms: at,
            source: ChangeSource::CloudTrail,
            who: session.to_string(),
            what: what.to_string(),
            resource: "demo resource".into(),
            read_only,
            deployment: false,
            error: None,
        });
        at += 7 * 60_000;
        i += 1;
    }
    out.sort_by_key(|c| std::cmp::Reverse(c.at_ms));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_lines_are_the_same_on_every_read_and_filters_apply() {
        let place = LogPlace::group("/aws/lambda/curriculum-alignment-prod-document-processing".into());
        let (a, more) = lines(&place, 1_800_000_000_000, 1_800_000_600_000, "", 500);
        let (b, _) = lines(&place, 1_800_000_000_000, 1_800_000_600_000, "", 500);
        assert_eq!(a, b);
        assert!(!more);
        assert_eq!(a.len(), 60, "two streams, a line each every 20 s");
        assert!(a.windows(2).all(|w| w[0].t_ms >= w[1].t_ms), "newest first");
        let (errors, _) = lines(&place, 1_800_000_000_000, 1_800_000_600_000, "ERROR", 500);
        assert!(!errors.is_empty() && errors.len() < a.len());
        assert!(errors.iter().all(|l| l.message.contains("ERROR")));
        let (none, _) = lines(&place, 1_800_000_000_000, 1_800_000_600_000, "ERROR -ERROR", 500);
        assert!(none.is_empty());
        let (few, more) = lines(&place, 1_800_000_000_000, 1_800_000_600_000, "", 5);
        assert_eq!((few.len(), more), (5, true));
        assert_eq!(few[..], a[..5], "the newest are kept");
        // Every line can be read again on its own, as attaching it to a timeline does.
        for l in &a {
            let (one, _) = lines(&place, l.t_ms, l.t_ms + 1, "", 500);
            assert_eq!(one, vec![l.clone()], "{l:?}");
        }
        assert!(matches("\"timed out\" ?x ?Task", "Task timed out"));
        assert!(!matches("\"timed out\" ?x ?y", "Task timed out"));
    }
}
