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
            e.kind,
            if e.pinned { " (pinned)" } else { "" },
            e.actor,
            e.text.replace('|', "\\|").replace('\n', "<br>")
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
