//! EventBridge: the rules of the default event bus with their schedule and state. ListRules
//! carries no tags: a rule is the environment's when its ARN is among the tagged ones, or else when
//! its own tags (ListTagsForResource, bounded like every fan-out) carry the selector's, because the
//! tagging API does not list rules everywhere. Last runs and failed invocations come from
//! CloudWatch (AWS/Events, by `RuleName`) with the charts.

use super::{err_text, row};
use crate::model::{Health, Resource, ResourceKind};
use crate::ssr::config::Selector;
use aws_sdk_eventbridge::Client;
use futures::{StreamExt, stream};
use std::collections::HashSet;

/// `rate(5 minutes)` → "every 5 minutes"; a cron expression is shown as written.
pub fn schedule_words(expr: &str) -> String {
    match expr.strip_prefix("rate(").and_then(|r| r.strip_suffix(')')) {
        Some(r) => format!("every {r}"),
        None => expr.to_string(),
    }
}

/// One field of a cron expression: the values it allows, None for `?`.
fn field(s: &str, min: u32, max: u32, names: &[&str]) -> Option<Option<Vec<u32>>> {
    if s == "?" {
        return Some(None);
    }
    let value = |v: &str| -> Option<u32> {
        v.parse().ok().or_else(|| {
            names
                .iter()
                .position(|n| n.eq_ignore_ascii_case(v))
                .map(|i| i as u32 + min)
        })
    };
    let mut out = Vec::new();
    for part in s.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, st)) => (r, st.parse::<u32>().ok().filter(|n| *n > 0)?),
            None => (part, 1),
        };
        let (lo, hi) = match range {
            "*" => (min, max),
            r => match r.split_once('-') {
                Some((a, b)) => (value(a)?, value(b)?),
                None if step > 1 => (value(r)?, max),
                None => (value(r)?, value(r)?),
            },
        };
        if lo < min || hi > max || lo > hi {
            return None;
        }
        out.extend((lo..=hi).step_by(step as usize));
    }
    Some(Some(out))
}

/// The next time (Unix ms, UTC) an EventBridge `cron(min hour day-of-month month day-of-week year)`
/// runs after `now_ms`; None for a `rate(…)` (it runs relative to when it was created), for the
/// `L`, `W` and `#` forms, or for a cron that never runs again.
pub fn next_run(expr: &str, now_ms: i64) -> Option<i64> {
    use chrono::{Datelike, Duration, NaiveDate, Timelike};
    let inner = expr.strip_prefix("cron(")?.strip_suffix(')')?;
    let f: Vec<&str> = inner.split_whitespace().collect();
    let [mi, ho, dom, mo, dow, yr] = f.as_slice() else {
        return None;
    };
    const MONTHS: [&str; 12] = [
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ];
    const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
    let minutes = field(mi, 0, 59, &[])??;
    let hours = field(ho, 0, 23, &[])??;
    let dom = field(dom, 1, 31, &[])?;
    let months = field(mo, 1, 12, &MONTHS)??;
    let dow = field(dow, 1, 7, &DAYS)?;
    let years = field(yr, 1970, 2199, &[])??;
    let mut t = chrono::DateTime::from_timestamp_millis(now_ms)?.naive_utc();
    t = t.with_second(0)?.with_nanosecond(0)? + Duration::minutes(1);
    for _ in 0..200_000 {
        let year = u32::try_from(t.year()).ok()?;
        if years.iter().all(|y| *y < year) {
            return None;
        }
        let day_ok = match (&dom, &dow) {
            (Some(d), _) => d.contains(&t.day()),
            (None, Some(w)) => w.contains(&(t.weekday().num_days_from_sunday() + 1)),
            (None, None) => true,
        };
        if !years.contains(&year) || !months.contains(&t.month()) {
            let (y, m) = if t.month() == 12 {
                (t.year() + 1, 1)
            } else {
                (t.year(), t.month() + 1)
            };
            t = NaiveDate::from_ymd_opt(y, m, 1)?.and_hms_opt(0, 0, 0)?;
        } else if !day_ok {
            t = (t.date() + Duration::days(1)).and_hms_opt(0, 0, 0)?;
        } else if !hours.contains(&t.hour()) {
            t = t.with_minute(0)? + Duration::hours(1);
        } else if !minutes.contains(&t.minute()) {
            t += Duration::minutes(1);
        } else {
            return Some(t.and_utc().timestamp_millis());
        }
    }
    None
}

/// How long whether a rule carries the selector's tag is remembered.
pub const TAGS_TTL: std::time::Duration = std::time::Duration::from_secs(900);

pub async fn read(
    client: &Client,
    selector: Option<&Selector>,
    owned: Option<&HashSet<String>>,
    known: &super::cache::Remember<bool>,
) -> Result<Vec<Resource>, String> {
    let rules = list(client).await?;
    let arns: Vec<String> = rules.iter().map(|r| r.id.clone()).collect();
    let keep: Vec<bool> = stream::iter(arns)
        .map(|arn| {
            let client = client.clone();
            async move {
                match (owned, known.get(&arn)) {
                    (None, _) => true,
                    (Some(o), _) if o.contains(&arn) => true,
                    (Some(_), Some(ours)) => ours,
                    // A rule whose tags cannot be read is not claimed (and is asked again next time).
                    (Some(_), None) => match client.list_tags_for_resource().resource_arn(&arn).send().await {
                        Ok(out) => {
                            let ours = super::carries(selector, out.tags().iter().map(|t| (t.key(), t.value())));
                            known.put(&arn, ours);
                            ours
                        }
                        Err(_) => false,
                    },
                }
            }
        })
        .buffered(super::CONCURRENCY)
        .collect()
        .await;
    Ok(rules
        .into_iter()
        .zip(keep)
        .filter(|(_, k)| *k)
        .map(|(r, _)| r)
        .collect())
}

async fn list(client: &Client) -> Result<Vec<Resource>, String> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = client
            .list_rules()
            .set_next_token(token.take())
            .limit(100)
            .send()
            .await
            .map_err(|e| err_text("EventBridge ListRules", &e))?;
        for r in page.rules() {
            let arn = r.arn().unwrap_or_default();
            let state = r.state().map(|s| s.as_str().to_string()).unwrap_or_default();
            let mut details = vec![];
            match r.schedule_expression() {
                Some(s) => {
                    details.push(("schedule".to_string(), schedule_words(s)));
                    if let Some(next) = next_run(s, crate::ssr::clock::now()).filter(|_| state == "ENABLED") {
                        details.push((
                            "next run".to_string(),
                            super::when(&aws_smithy_types::DateTime::from_millis(next)),
                        ));
                    }
                }
                None => details.push(("trigger".to_string(), "event pattern".to_string())),
            }
            out.push(row(
                ResourceKind::EventBridgeRule,
                r.name().unwrap_or_default(),
                arn,
                &state,
                // A disabled schedule is a job that does not run: worth a look, not an outage.
                if state == "ENABLED" {
                    Health::Healthy
                } else {
                    Health::Degraded
                },
                details,
            ));
        }
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => break,
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(s)
            .map(|t| t.timestamp_millis())
            .unwrap_or(0)
    }

    #[test]
    fn the_next_run_of_a_cron_schedule() {
        let now = at("2026-11-30T13:45:10Z");
        assert_eq!(next_run("cron(0 2 * * ? *)", now), Some(at("2026-12-01T02:00:00Z")));
        assert_eq!(next_run("cron(0/15 * * * ? *)", now), Some(at("2026-11-30T14:00:00Z")));
        assert_eq!(
            next_run("cron(30 9 ? * MON-FRI *)", now),
            Some(at("2026-12-01T09:30:00Z")),
            "a Tuesday"
        );
        assert_eq!(next_run("cron(0 0 1 JAN ? *)", now), Some(at("2027-01-01T00:00:00Z")));
        assert_eq!(
            next_run("cron(0 12 ? * SUN 2026)", now),
            Some(at("2026-12-06T12:00:00Z"))
        );
        assert_eq!(next_run("cron(0 12 ? * SUN 2025)", now), None, "a year gone");
        assert_eq!(next_run("cron(0 10 L * ? *)", now), None, "L is not computed");
        assert_eq!(next_run("rate(5 minutes)", now), None);
        assert_eq!(schedule_words("rate(5 minutes)"), "every 5 minutes");
    }
}
