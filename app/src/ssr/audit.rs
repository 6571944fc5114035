//! The tamper-evident audit log: each entry carries HMAC(key, previous MAC ‖ entry), so an edit,
//! a deletion, a reordering or a chain recomputed without the key fails `verify`. A cut tail is
//! caught by comparing the head (`seq`, `mac`) with one recorded earlier.

use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

/// The "previous MAC" of the first entry.
pub const GENESIS_MAC: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What an action records; the store gives it its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewAuditEntry {
    pub ts_ms: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    /// "ok", "refused" or "failed".
    pub outcome: String,
    /// JSON object with the particulars.
    pub detail: String,
    pub request_id: String,
}

impl NewAuditEntry {
    pub fn new(actor: &str, action: &str, target: &str, outcome: &str, detail: serde_json::Value) -> NewAuditEntry {
        NewAuditEntry {
            ts_ms: crate::ssr::clock::now(),
            actor: actor.to_string(),
            action: action.to_string(),
            target: target.to_string(),
            outcome: outcome.to_string(),
            detail: detail.to_string(),
            request_id: String::new(),
        }
    }

    pub fn with_request_id(mut self, id: &str) -> NewAuditEntry {
        self.request_id = id.to_string();
        self
    }
}

/// An entry in its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRecord {
    pub seq: i64,
    #[serde(flatten)]
    pub entry: NewAuditEntry,
    pub prev_mac: String,
    pub mac: String,
}

/// The bytes the MAC covers after the previous MAC: a JSON array of every field but the MACs,
/// whose serialisation is unambiguous (strings are quoted and escaped).
fn canonical(seq: i64, e: &NewAuditEntry) -> Vec<u8> {
    serde_json::json!([
        seq,
        e.ts_ms,
        e.actor,
        e.action,
        e.target,
        e.outcome,
        e.detail,
        e.request_id
    ])
    .to_string()
    .into_bytes()
}

fn mac_of(key: &[u8], prev_mac: &str, seq: i64, e: &NewAuditEntry) -> String {
    // HMAC accepts keys of any length, so new_from_slice cannot fail here.
    let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    mac.update(prev_mac.as_bytes());
    mac.update(b"\n");
    mac.update(&canonical(seq, e));
    hex::encode(mac.finalize().into_bytes())
}

/// Gives `entry` sequence number `seq` after `prev_mac`.
pub fn seal(key: &[u8], seq: i64, prev_mac: &str, entry: NewAuditEntry) -> AuditRecord {
    let mac = mac_of(key, prev_mac, seq, &entry);
    AuditRecord {
        seq,
        entry,
        prev_mac: prev_mac.to_string(),
        mac,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHead {
    pub seq: i64,
    pub mac: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error("entry {seq}: expected sequence number {expected} (an entry is missing or out of order)")]
    Gap { seq: i64, expected: i64 },
    #[error("entry {seq}: does not link to the entry before it (deleted, reordered or replaced)")]
    Link { seq: i64 },
    #[error("entry {seq}: MAC does not match its content (edited, or written without the key)")]
    Mac { seq: i64 },
}

/// Checks the whole chain in order; returns its head.
pub fn verify(key: &[u8], entries: &[AuditRecord]) -> Result<ChainHead, ChainError> {
    let mut prev = GENESIS_MAC.to_string();
    let mut expected = 1;
    for r in entries {
        if r.seq != expected {
            return Err(ChainError::Gap { seq: r.seq, expected });
        }
        if r.prev_mac != prev {
            return Err(ChainError::Link { seq: r.seq });
        }
        if mac_of(key, &prev, r.seq, &r.entry) != r.mac {
            return Err(ChainError::Mac { seq: r.seq });
        }
        prev = r.mac.clone();
        expected += 1;
    }
    Ok(ChainHead {
        seq: expected - 1,
        mac: prev,
    })
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(key: &[u8], n: i64) -> Vec<AuditRecord> {
        let mut out: Vec<AuditRecord> = Vec::new();
        for i in 1..=n {
            let prev = out
                .last()
                .map(|r| r.mac.clone())
                .unwrap_or_else(|| GENESIS_MAC.to_string());
            let mut e = NewAuditEntry::new("alice", "login", "console", "ok", serde_json::json!({"i": i}));
            e.ts_ms = 1_700_000_000_000 + i;
            out.push(seal(key, i, &prev, e));
        }
        out
    }

    #[test]
    fn an_intact_chain_verifies_to_its_head() -> Result<(), Box<dyn std::error::Error>> {
        let c = chain(b"k", 5);
        let head = verify(b"k", &c)?;
        assert_eq!(head.seq, 5);
        assert_eq!(head.mac, c[4].mac);
        assert_eq!(verify(b"k", &[])?.seq, 0);
        Ok(())
    }

    #[test]
    fn edits_deletions_reorders_and_recomputed_chains_fail() {
        let c = chain(b"k", 5);
        let mut edited = c.clone();
        edited[2].entry.actor = "mallory".into();
        assert_eq!(verify(b"k", &edited), Err(ChainError::Mac { seq: 3 }));

        let mut deleted = c.clone();
        deleted.remove(1);
        assert_eq!(verify(b"k", &deleted), Err(ChainError::Gap { seq: 3, expected: 2 }));

        let mut reordered = c.clone();
        reordered.swap(1, 2);
        assert!(verify(b"k", &reordered).is_err());

        // Renumbering after a deletion does not help: the links break.
        let mut renumbered = deleted.clone();
        for (i, r) in renumbered.iter_mut().enumerate() {
            r.seq = i as i64 + 1;
        }
        assert!(matches!(
            verify(b"k", &renumbered),
            Err(ChainError::Link { .. }) | Err(ChainError::Mac { .. })
        ));

        // A chain recomputed with another key does not verify with the real one.
        let forged = chain(b"not-the-key", 5);
        assert_eq!(verify(b"k", &forged), Err(ChainError::Mac { seq: 1 }));
    }

    #[test]
    fn csv_quotes_what_needs_quoting() {
        let mut c = chain(b"k", 1);
        c[0].entry.detail = "{\"a\":\"x,y\"}".into();
        let csv = to_csv(&c);
        assert!(
            csv.lines()
                .nth(1)
                .is_some_and(|l| l.contains("\"{\"\"a\"\":\"\"x,y\"\"}\"")),
            "{csv}"
        );
        assert_eq!(to_jsonl(&c).lines().count(), 1);
    }

    #[test]
    fn csv_cells_that_a_spreadsheet_would_run_are_text() {
        let mut c = chain(b"k", 1);
        c[0].entry.request_id = "=HYPERLINK(\"https://evil.example\",\"open\")".into();
        c[0].entry.actor = "@SUM(1+1)".into();
        c[0].entry.target = "+1".into();
        c[0].entry.outcome = "-2".into();
        c[0].entry.action = "\tx".into();
        let csv = to_csv(&c);
        let row = csv.lines().nth(1).unwrap_or_default();
        assert!(
            row.contains(",\"'=HYPERLINK(\"\"https://evil.example\"\",\"\"open\"\")\","),
            "{row}"
        );
        assert!(row.contains(",'@SUM(1+1),'\tx,'+1,'-2,"), "{row}");
        for cell in row.split(',') {
            assert!(!cell.starts_with(['=', '+', '-', '@', '\t']), "{cell} in {row}");
        }
    }
}
