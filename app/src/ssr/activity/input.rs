//! The checked input of the logs, Insights and changes reads.

use crate::error::AppError;
use crate::model::{CHANGES_MAX_HOURS, LOG_MAX_MINUTES};
use crate::ssr::kernel::input::text;

/// A window of log lines: [end - minutes, end), end at most now and at most 30 days back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogWindow {
    pub start_ms: i64,
    pub end_ms: i64,
    /// The window ends now: the page follows new lines.
    pub live: bool,
}

impl LogWindow {
    /// The half hour around `around` (Unix ms, within 30 days), up to now; else `parse`.
    pub fn parse_around(around: &str, minutes: &str, end: &str, now_ms: i64) -> Result<LogWindow, AppError> {
        if around.trim().is_empty() {
            return LogWindow::parse(minutes, end, now_ms);
        }
        let t: i64 = around
            .trim()
            .parse()
            .ok()
            .filter(|t| *t <= now_ms && *t >= now_ms - 30 * 86_400_000)
            .ok_or_else(|| AppError::Invalid("around: Unix milliseconds within the last 30 days".into()))?;
        let end_ms = (t + 15 * 60_000).min(now_ms);
        Ok(LogWindow {
            start_ms: t - 15 * 60_000,
            end_ms,
            live: end_ms == now_ms,
        })
    }

    /// `minutes` 1 to `LOG_MAX_MINUTES` (empty: 15); `end` Unix milliseconds (empty: now).
    pub fn parse(minutes: &str, end: &str, now_ms: i64) -> Result<LogWindow, AppError> {
        let minutes: u32 = match minutes.trim() {
            "" => 15,
            m => m
                .parse()
                .ok()
                .filter(|m| (1..=LOG_MAX_MINUTES).contains(m))
                .ok_or_else(|| AppError::Invalid(format!("minutes: a whole number from 1 to {LOG_MAX_MINUTES}")))?,
        };
        let (end_ms, live) = match end.trim() {
            "" => (now_ms, true),
            e => {
                let t: i64 = e
                    .parse()
                    .map_err(|_| AppError::Invalid("end: Unix milliseconds".into()))?;
                if t > now_ms || t < now_ms - 30 * 86_400_000 {
                    return Err(AppError::Invalid(
                        "end: within the last 30 days, not in the future".into(),
                    ));
                }
                (t, false)
            }
        };
        Ok(LogWindow {
            start_ms: end_ms - i64::from(minutes) * 60_000,
            end_ms,
            live,
        })
    }

    pub fn minutes(&self) -> i64 {
        (self.end_ms - self.start_ms) / 60_000
    }
}

/// A CloudWatch Logs filter pattern: up to 1024 printable characters (may be empty).
pub fn filter_pattern(v: &str) -> Result<String, AppError> {
    if v.trim().is_empty() {
        return Ok(String::new());
    }
    text("filter", v, 1024, false)
}

/// A Logs Insights query: up to 10,000 characters, over the source's group only. A `SOURCE`
/// command, which names log groups in the query itself, is refused: the console picks the group.
pub fn insights_query(v: &str) -> Result<String, AppError> {
    let q = text("query", v, 10_000, true)?;
    let names_groups = q.split('|').any(|cmd| {
        let cmd = cmd.trim_start().to_ascii_lowercase();
        cmd.strip_prefix("source")
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(|c: char| c.is_whitespace() || c == '('))
    });
    if names_groups {
        return Err(AppError::Invalid(
            "query: SOURCE is not allowed; the query runs over this source's log group".into(),
        ));
    }
    Ok(q)
}

/// The start of the changes window: `30m`, `6h`, `2d` back from now, or a UTC time
/// `2026-12-01T09:30` (`Z` optional); at most `CHANGES_MAX_HOURS` back. Empty: 24 hours.
pub fn since(v: &str, now_ms: i64) -> Result<i64, AppError> {
    let v = v.trim();
    let bad = || {
        AppError::Invalid(format!(
            "since: \"{v}\" is not a duration (30m, 6h, 2d) or a UTC time (2026-12-01T09:30)"
        ))
    };
    let t = if v.is_empty() {
        now_ms - 24 * 3_600_000
    } else if let Some(n) = v.strip_suffix('m').and_then(|n| n.parse::<i64>().ok()) {
        now_ms - n * 60_000
    } else if let Some(n) = v.strip_suffix('h').and_then(|n| n.parse::<i64>().ok()) {
        now_ms - n * 3_600_000
    } else if let Some(n) = v.strip_suffix('d').and_then(|n| n.parse::<i64>().ok()) {
        now_ms - n * 86_400_000
    } else {
        let plain = v.trim_end_matches('Z');
        chrono::NaiveDateTime::parse_from_str(plain, "%Y-%m-%dT%H:%M")
            .or_else(|_| chrono::NaiveDateTime::parse_from_str(plain, "%Y-%m-%dT%H:%M:%S"))
            .map_err(|_| bad())?
            .and_utc()
            .timestamp_millis()
    };
    if t > now_ms {
        return Err(AppError::Invalid("since: not in the future".into()));
    }
    if t < now_ms - CHANGES_MAX_HOURS * 3_600_000 {
        return Err(AppError::Invalid(format!(
            "since: at most {} days back",
            CHANGES_MAX_HOURS / 24
        )));
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000;

    #[test]
    fn windows_are_bounded_and_end_now_unless_told() {
        let w = LogWindow::parse("", "", NOW).expect("default");
        assert_eq!((w.start_ms, w.end_ms, w.live), (NOW - 900_000, NOW, true));
        let w = LogWindow::parse("30", &(NOW - 60_000).to_string(), NOW).expect("past");
        assert_eq!((w.minutes(), w.live), (30, false));
        assert!(LogWindow::parse("0", "", NOW).is_err());
        assert!(LogWindow::parse("1441", "", NOW).is_err());
        assert!(LogWindow::parse("15", &(NOW + 1).to_string(), NOW).is_err());
        assert!(LogWindow::parse("15", "yesterday", NOW).is_err());
        let a = LogWindow::parse_around(&(NOW - 3_600_000).to_string(), "", "", NOW).expect("around");
        assert_eq!(
            (a.start_ms, a.end_ms, a.live),
            (NOW - 4_500_000, NOW - 2_700_000, false)
        );
        let recent = LogWindow::parse_around(&(NOW - 60_000).to_string(), "", "", NOW).expect("around");
        assert_eq!((recent.end_ms, recent.live), (NOW, true));
        assert!(LogWindow::parse_around(&(NOW + 1).to_string(), "", "", NOW).is_err());
    }

    #[test]
    fn a_query_cannot_name_other_log_groups() {
        assert!(insights_query("fields @timestamp, @message | sort @timestamp desc").is_ok());
        assert!(insights_query("SOURCE logGroups(namePrefix: ['/other']) | fields @message").is_err());
        assert!(insights_query("fields @message |  source '/x'").is_err());
        assert!(insights_query("SOURCE\tlogGroups() | fields @message").is_err());
        assert!(insights_query("source(x)").is_err());
        assert!(insights_query("fields sourceIp").is_ok());
        assert!(insights_query("   ").is_err());
    }

    #[test]
    fn since_takes_durations_and_utc_times_within_a_week() {
        assert_eq!(since("", NOW).expect("default"), NOW - 86_400_000);
        assert_eq!(since("6h", NOW).expect("6h"), NOW - 6 * 3_600_000);
        assert_eq!(since("30m", NOW).expect("30m"), NOW - 1_800_000);
        let t = since("2027-01-15T07:00Z", NOW).expect("a time");
        assert_eq!(crate::model::format_ts(t), "2027-01-15 07:00:00 UTC");
        assert!(since("8d", NOW).is_err());
        assert!(since("-1h", NOW).is_err());
        assert!(since("soon", NOW).is_err());
    }
}
