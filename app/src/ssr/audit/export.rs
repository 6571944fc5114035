//! The audit log as files for people and tools: JSON lines and CSV.

use super::AuditRecord;

/// One JSON document per line.
pub fn to_jsonl(entries: &[AuditRecord]) -> String {
    entries
        .iter()
        .map(|e| serde_json::to_string(e).unwrap_or_default() + "\n")
        .collect()
}

/// RFC 4180 CSV with a header row. A cell a spreadsheet would run as a formula (starting with
/// `=`, `+`, `-`, `@`, a tab or a carriage return) gets a leading `'`, so it is shown as text.
pub fn to_csv(entries: &[AuditRecord]) -> String {
    fn field(s: &str) -> String {
        let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
            format!("'{s}")
        } else {
            s.to_string()
        };
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s
        }
    }
    let mut out = String::from("seq,ts,actor,action,target,outcome,detail,request_id,prev_mac,mac\n");
    for r in entries {
        let e = &r.entry;
        let ts = chrono::DateTime::from_timestamp_millis(e.ts_ms)
            .map(|t| t.to_rfc3339())
            .unwrap_or_default();
        let cols = [
            r.seq.to_string(),
            ts,
            e.actor.clone(),
            e.action.clone(),
            e.target.clone(),
            e.outcome.clone(),
            e.detail.clone(),
            e.request_id.clone(),
            r.prev_mac.clone(),
            r.mac.clone(),
        ];
        out.push_str(&cols.iter().map(|c| field(c)).collect::<Vec<_>>().join(","));
        out.push('\n');
    }
    out
}
