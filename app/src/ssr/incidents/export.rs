//! The timeline as Markdown and JSON, and the post-mortem draft.

use crate::error::AppError;
use crate::model::{IncidentSummary, IncidentView, TimelineEntry};
use crate::ssr::auth::Caller;
use crate::ssr::state::AppState;

/// The incident as `md` (Markdown) or `json`, for anyone who may view it.
pub async fn export(state: &AppState, caller: &Caller, id: i64, format: &str) -> Result<String, AppError> {
    let v = super::queries::view(state, caller, id).await?;
    match format {
        "md" | "markdown" => Ok(markdown(&v)),
        "json" => serde_json::to_string_pretty(&json(&v)).map_err(|e| AppError::Internal(e.to_string())),
        other => Err(AppError::Invalid(format!("format: \"{other}\" is not md or json"))),
    }
}

fn ts(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}

/// One table cell: whatever the text holds stays inside its cell. Every line ending (`\r\n`, a
/// bare `\r`, `\n`, and the Unicode line and paragraph separators) becomes `<br>`, so no text can
/// end the row and start a forged one; `\`, `|`, `<`, `>` and `&` are escaped, so neither a cell
/// boundary nor markup can be written from inside.
fn cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("<br>");
            }
            '\n' | '\u{2028}' | '\u{2029}' | '\u{85}' => out.push_str("<br>"),
            '\\' => out.push_str("\\\\"),
            '|' => out.push_str("\\|"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The timeline as Markdown: a header with the facts, then every entry in order.
pub fn markdown(v: &IncidentView) -> String {
    let i = &v.incident;
    let mut out = format!("# Incident {}: {}\n\n", i.id, i.title);
    if i.demo {
        out.push_str("> Demo environment: simulated data, not a real system.\n\n");
    }
    out.push_str(&format!(
        "- Environment: {}\n- Severity: SEV{}\n- Status: {}\n- Commander: {}\n- Communications: {}\n- Declared by: {} at {}\n",
        i.environment,
        i.severity.number(),
        i.status.label(),
        if i.commander.is_empty() { "unassigned" } else { &i.commander },
        if i.communications.is_empty() { "unassigned" } else { &i.communications },
        i.declared_by,
        ts(i.started_ms)
    ));
    if let Some(a) = i.acknowledged_ms {
        out.push_str(&format!(
            "- Acknowledged: {} ({} min, target {} min{})\n",
            ts(a),
            (a - i.started_ms) / 60_000,
            i.target_minutes,
            if i.ack_breached { ", missed" } else { "" }
        ));
    }
    if let Some(r) = i.resolved_ms {
        out.push_str(&format!("- Resolved: {}\n", ts(r)));
    }
    if !i.ticket.is_empty() {
        out.push_str(&format!("- Ticket: {}\n", i.ticket));
    }
    if !i.alarms.is_empty() {
        out.push_str(&format!("- Alarms: {}\n", i.alarms.join(", ")));
    }
    if !i.services.is_empty() {
        out.push_str(&format!("- Services: {}\n", i.services.join(", ")));
    }
    out.push_str("\n## Timeline\n\n| Time (UTC) | Kind | Who | What |\n|---|---|---|---|\n");
    for e in &v.entries {
        out.push_str(&format!(
            "| {} | {}{} | {} | {} |\n",
            ts(e.at_ms),
            cell(&e.kind),
            if e.pinned { " (pinned)" } else { "" },
            cell(&e.actor),
            cell(&e.text)
        ));
    }
    if !v.postmortem.is_empty() {
        out.push_str("\n## Post-mortem\n\n");
        out.push_str(&v.postmortem);
        out.push('\n');
    }
    out
}

/// The JSON export: the incident, its timeline and rollbacks, and the post-mortem.
pub fn json(v: &IncidentView) -> serde_json::Value {
    serde_json::json!({
        "incident": v.incident,
        "timeline": v.entries,
        "rollbacks": v.rollbacks,
        "postmortem": v.postmortem,
    })
}

/// A post-mortem draft from the timeline: summary, impact, timeline, root cause, action items.
pub fn postmortem_draft(i: &IncidentSummary, entries: &[TimelineEntry]) -> String {
    let mut out = format!("# Post-mortem: {}\n\n## Summary\n\n", i.title);
    out.push_str(&format!(
        "SEV{} incident in {} declared by {} at {}",
        i.severity.number(),
        i.environment,
        i.declared_by,
        ts(i.started_ms)
    ));
    if let Some(r) = i.resolved_ms {
        out.push_str(&format!(
            ", resolved at {} after {} min",
            ts(r),
            (r - i.started_ms) / 60_000
        ));
    }
    out.push_str(".\n\n## Impact\n\nWho and what was affected, for how long:\n\n");
    if !i.services.is_empty() {
        out.push_str(&format!("- Services: {}\n", i.services.join(", ")));
    }
    if !i.alarms.is_empty() {
        out.push_str(&format!("- Alarms: {}\n", i.alarms.join(", ")));
    }
    out.push_str("\n## Timeline\n\n");
    let pinned: Vec<&TimelineEntry> = entries.iter().filter(|e| e.pinned).collect();
    let shown: Vec<&TimelineEntry> = if pinned.is_empty() {
        entries.iter().collect()
    } else {
        pinned
    };
    for e in shown {
        out.push_str(&format!(
            "- {} {}: {}\n",
            ts(e.at_ms),
            e.kind,
            e.text.replace('\n', " ")
        ));
    }
    out.push_str("\n## Root cause\n\nTo be written.\n\n## Action items\n\n- [ ] \n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{IncidentStatus, Severity};

    fn view(text: &str) -> Option<IncidentView> {
        let incident = IncidentSummary {
            id: 7,
            title: "API down".into(),
            environment: "taskflow-production".into(),
            demo: false,
            severity: Severity::new(1)?,
            status: IncidentStatus::Investigating,
            commander: String::new(),
            communications: String::new(),
            alarms: vec![],
            services: vec![],
            ticket: String::new(),
            declared_by: "bob".into(),
            started_ms: 1_700_000_000_000,
            acknowledged_ms: None,
            resolved_ms: None,
            closed_ms: None,
            target_minutes: 5,
            ack_breached: false,
            has_postmortem: false,
        };
        let entry = TimelineEntry {
            id: 1,
            at_ms: 1_700_000_060_000,
            recorded_ms: 1_700_000_060_000,
            kind: "note".into(),
            actor: "mallory".into(),
            text: text.into(),
            pinned: false,
        };
        Some(IncidentView {
            incident,
            entries: vec![entry],
            rollbacks: vec![],
            postmortem: String::new(),
            postmortem_draft: String::new(),
            next_statuses: vec![],
            chart: None,
            now_ms: 1_700_000_100_000,
        })
    }

    /// The rows of the timeline table, read as CommonMark does (a line ends at `\n`, `\r\n` or
    /// a bare `\r`).
    fn rows(md: &str) -> Vec<String> {
        md.replace("\r\n", "\n")
            .replace('\r', "\n")
            .split('\n')
            .skip_while(|l| !l.starts_with("| Time"))
            .skip(2)
            .take_while(|l| l.starts_with('|'))
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn a_bare_cr_cannot_end_the_row_and_forge_another() {
        // Stored before line endings were normalised on input, or written by a job from AWS text.
        let forged = "ok\r| 2024-01-01 00:00:00 UTC | approval | alice | approved the rollback |";
        let md = view(forged).map(|v| markdown(&v)).unwrap_or_default();
        let rows = rows(&md);
        assert_eq!(rows.len(), 1, "one entry, one row: {md:?}");
        // Four cells: `| a | b | c | d |` has five unescaped pipes.
        let unescaped = rows[0].replace("\\\\", "").replace("\\|", "").matches('|').count();
        assert_eq!(unescaped, 5, "{}", rows[0]);
        assert!(rows[0].contains("ok<br>\\| 2024-01-01"), "{}", rows[0]);
    }

    #[test]
    fn cells_escape_pipes_backslashes_and_markup() {
        assert_eq!(
            cell("a\\|b"),
            "a\\\\\\|b",
            "a backslash cannot unescape the pipe after it"
        );
        assert_eq!(cell("<img src=x>&"), "&lt;img src=x&gt;&amp;");
        assert_eq!(cell("a\r\nb\nc\u{2028}d\re"), "a<br>b<br>c<br>d<br>e");
    }
}
