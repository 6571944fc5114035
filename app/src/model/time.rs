//! Times as the console writes them, always in UTC, in plain Rust: the same text on the server
//! and in the browser, without chrono in the client bundle (issue 15, item 4).

/// Year, month, day, hour, minute, second of a Unix time in milliseconds (UTC), for the years
/// 0 to 9999; `None` outside them.
pub fn utc_parts(ms: i64) -> Option<(i64, u32, u32, u32, u32, u32)> {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rest = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days: days since 1970-01-01 to a proleptic Gregorian date.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    if !(0..=9999).contains(&year) {
        return None;
    }
    let (h, m, s) = (rest / 3600, rest % 3600 / 60, rest % 60);
    Some((year, month, day, h as u32, m as u32, s as u32))
}

/// `2026-11-30 21:39:41 UTC`, or `-` for a time out of range.
pub fn format_ts(ms: i64) -> String {
    match utc_parts(ms) {
        Some((y, mo, d, h, mi, s)) => format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02} UTC"),
        None => "-".into(),
    }
}

/// `21:39`, or with `long` `11-30 21:39` (a chart's time axis); empty out of range.
pub fn hhmm(ms: i64, long: bool) -> String {
    match utc_parts(ms) {
        Some((_, mo, d, h, mi, _)) if long => format!("{mo:02}-{d:02} {h:02}:{mi:02}"),
        Some((_, _, _, h, mi, _)) => format!("{h:02}:{mi:02}"),
        None => String::new(),
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;

    /// Agrees with chrono (the server's own clock formatting) across the range, including leap
    /// days, century years, negative times and the edges of a day.
    #[test]
    fn agrees_with_chrono() {
        let mut ms: i64 = -62_167_219_200_000; // 0000-01-01
        let end: i64 = 253_402_300_799_999; // 9999-12-31 23:59:59.999
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut checked = 0;
        while ms <= end {
            for probe in [ms, ms - 1, ms + 999, ms + 86_399_999] {
                if !(-62_167_219_200_000..=end).contains(&probe) {
                    continue;
                }
                let Some(t) = chrono::DateTime::from_timestamp_millis(probe) else {
                    continue;
                };
                assert_eq!(
                    format_ts(probe),
                    t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                    "{probe}"
                );
                assert_eq!(hhmm(probe, true), t.format("%m-%d %H:%M").to_string(), "{probe}");
                assert_eq!(hhmm(probe, false), t.format("%H:%M").to_string(), "{probe}");
                checked += 1;
            }
            // xorshift steps of up to 30 days (in ms), so every month and year is crossed.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ms += (x % 2_592_000_000) as i64 + 1;
        }
        assert!(checked > 500_000, "{checked}");
        for (ms, text) in [
            (0, "1970-01-01 00:00:00 UTC"),
            (951_782_400_000, "2000-02-29 00:00:00 UTC"),
            (-1, "1969-12-31 23:59:59 UTC"),
            (4_107_542_399_000, "2100-02-28 23:59:59 UTC"),
            (4_107_542_400_000, "2100-03-01 00:00:00 UTC"),
            (11_013_235_200_000, "2318-12-31 00:00:00 UTC"),
        ] {
            assert_eq!(format_ts(ms), text);
        }
        assert_eq!(format_ts(i64::MAX), "-");
        assert_eq!(format_ts(i64::MIN), "-");
        assert_eq!(hhmm(i64::MAX, false), "");
    }
}
