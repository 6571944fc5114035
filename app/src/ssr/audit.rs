//! The tamper-evident audit log: each entry carries HMAC(key, previous MAC ‖ entry), so an edit,
//! a deletion, a reordering or a chain recomputed without the key fails `verify`. A cut tail is
//! caught by comparing the head (`seq`, `mac`) with one recorded earlier (`check_head`).
//!
//! Each entry names the id of the key that sealed it (`key_id`, derived from the key, never the
//! key itself), and the MAC covers that id. The key rotates by an `audit.rekey` entry (`rekey_entry`):
//! sealed with the new key, it carries a MAC under the new key of every entry before it (so the
//! whole log verifies with the new key alone) and a signature by the old key (so whoever holds the
//! old key can prove the hand-over). Entries are never rewritten: the log stays append-only and a
//! head recorded before a rotation stays valid after it. Rows from before key ids (`key_id` empty)
//! were sealed with the chain's first key: the old key of the first rekey entry, or else the
//! configured key.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::collections::BTreeMap;

/// The "previous MAC" of the first entry.
pub const GENESIS_MAC: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The action of the entry that hands the chain over from one key to the next.
pub const REKEY_ACTION: &str = "audit.rekey";

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
    /// The id of the key that sealed this entry (`key_id`); empty on rows written before key ids.
    pub key_id: String,
}

fn hmac(key: &[u8]) -> Hmac<Sha256> {
    // HMAC accepts keys of any length, so new_from_slice cannot fail here.
    match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    }
}

/// The public name of a key: the first 16 hex digits of HMAC(key, a fixed label). It tells keys
/// apart without revealing anything about them.
pub fn key_id(key: &[u8]) -> String {
    let mut mac = hmac(key);
    mac.update(b"ops-console audit key id v1");
    let mut id = hex::encode(mac.finalize().into_bytes());
    id.truncate(16);
    id
}

/// The bytes the MAC covers after the previous MAC: a JSON array of every field but the MACs,
/// whose serialisation is unambiguous (strings are quoted and escaped). Rows from before key ids
/// keep the form they were sealed in (eight elements); the others end with the key id.
fn canonical(seq: i64, key_id: &str, e: &NewAuditEntry) -> Vec<u8> {
    let mut v = vec![
        serde_json::json!(seq),
        serde_json::json!(e.ts_ms),
        serde_json::json!(e.actor),
        serde_json::json!(e.action),
        serde_json::json!(e.target),
        serde_json::json!(e.outcome),
        serde_json::json!(e.detail),
        serde_json::json!(e.request_id),
    ];
    if !key_id.is_empty() {
        v.push(serde_json::json!(key_id));
    }
    serde_json::Value::Array(v).to_string().into_bytes()
}

fn mac_of(key: &[u8], prev_mac: &str, seq: i64, key_id: &str, e: &NewAuditEntry) -> String {
    let mut mac = hmac(key);
    mac.update(prev_mac.as_bytes());
    mac.update(b"\n");
    mac.update(&canonical(seq, key_id, e));
    hex::encode(mac.finalize().into_bytes())
}

/// Gives `entry` sequence number `seq` after `prev_mac`, sealed with `key` (and naming its id).
pub fn seal(key: &[u8], seq: i64, prev_mac: &str, entry: NewAuditEntry) -> AuditRecord {
    let id = key_id(key);
    let mac = mac_of(key, prev_mac, seq, &id, &entry);
    AuditRecord {
        seq,
        entry,
        prev_mac: prev_mac.to_string(),
        mac,
        key_id: id,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHead {
    pub seq: i64,
    pub mac: String,
}

impl ChainHead {
    /// Parses `SEQ:MAC` as `audit head` prints it.
    pub fn parse(text: &str) -> Result<ChainHead, String> {
        let bad = || format!("\"{text}\" is not SEQ:MAC (as `ops-console audit head` prints it)");
        let (seq, mac) = text.trim().split_once(':').ok_or_else(bad)?;
        let seq: i64 = seq.parse().map_err(|_| bad())?;
        let mac = mac.to_ascii_lowercase();
        if seq < 0 || mac.len() != 64 || !mac.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(bad());
        }
        Ok(ChainHead { seq, mac })
    }
}

impl std::fmt::Display for ChainHead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.seq, self.mac)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error("entry {seq}: expected sequence number {expected} (an entry is missing or out of order)")]
    Gap { seq: i64, expected: i64 },
    #[error("entry {seq}: does not link to the entry before it (deleted, reordered or replaced)")]
    Link { seq: i64 },
    #[error("entry {seq}: MAC does not match its content (edited, or written without the key)")]
    Mac { seq: i64 },
    #[error(
        "entry {seq}: sealed with key id {key_id}, which is not among the keys given and no later rekey entry covers it (give the key with --key-file, or the entry was written with a foreign key)"
    )]
    UnknownKey { seq: i64, key_id: String },
    #[error(
        "entry {seq}: sealed with key id {key_id} while the key in force is {in_force} (written with another key, or after that key was rotated away)"
    )]
    KeyOutOfTurn { seq: i64, key_id: String, in_force: String },
    #[error("entry {seq}: has no key id but follows entries that have one")]
    NoKeyId { seq: i64 },
    #[error("entry {seq}: rekey entry does not hold: {reason}")]
    Rekey { seq: i64, reason: String },
    #[error("the recorded head {expected} is gone: the log ends at entry {last} (cut back or emptied)")]
    CutBack { expected: ChainHead, last: i64 },
    #[error("entry {seq} has MAC {found}, not the recorded {expected}: the log was cut back and written again")]
    HeadDiffers { seq: i64, expected: String, found: String },
}

/// The keys a verification may use, by id.
#[derive(Clone, Default)]
pub struct Keys {
    by_id: BTreeMap<String, Vec<u8>>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the keys themselves.
        f.debug_list().entries(self.by_id.keys()).finish()
    }
}

impl Keys {
    pub fn new<I: IntoIterator<Item = Vec<u8>>>(keys: I) -> Keys {
        Keys {
            by_id: keys.into_iter().map(|k| (key_id(&k), k)).collect(),
        }
    }

    pub fn get(&self, id: &str) -> Option<&[u8]> {
        self.by_id.get(id).map(Vec::as_slice)
    }
}

/// What an `audit.rekey` entry's detail holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RekeyDetail {
    old_key_id: String,
    new_key_id: String,
    /// `SEQ:MAC` of the entry before the rekey entry.
    old_head: String,
    /// The MAC under the new key of every entry before the rekey entry (`shadow`).
    rekeyed_mac: String,
    /// The old key's signature of the hand-over (`handover_sig`).
    old_key_sig: String,
}

/// The entries before a rekey, MACed again under the new key: content, key id and both stored
/// MACs of each, in order. The label keeps these values apart from entry MACs.
fn shadow(new_key: &[u8], entries: &[AuditRecord]) -> String {
    let mut acc = GENESIS_MAC.to_string();
    for r in entries {
        let mut mac = hmac(new_key);
        mac.update(b"ops-console audit rekey shadow\n");
        mac.update(acc.as_bytes());
        mac.update(b"\n");
        mac.update(&canonical(r.seq, &r.key_id, &r.entry));
        mac.update(b"\n");
        mac.update(r.prev_mac.as_bytes());
        mac.update(b"\n");
        mac.update(r.mac.as_bytes());
        acc = hex::encode(mac.finalize().into_bytes());
    }
    acc
}

/// The old key's signature of the hand-over to the new key at `seq` after `prev_mac`.
fn handover_sig(old_key: &[u8], seq: i64, prev_mac: &str, new_key_id: &str, rekeyed_mac: &str) -> String {
    let mut mac = hmac(old_key);
    let text = serde_json::json!([
        "ops-console audit rekey",
        seq,
        prev_mac,
        key_id(old_key),
        new_key_id,
        rekeyed_mac
    ]);
    mac.update(text.to_string().as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Checks the whole chain in order with `key` (rows without a key id count as sealed with it);
/// returns its head.
pub fn verify(key: &[u8], entries: &[AuditRecord]) -> Result<ChainHead, ChainError> {
    verify_with(&Keys::new([key.to_vec()]), &key_id(key), entries)
}

/// Checks the whole chain in order, each entry with the key its id names; returns its head.
/// An entry whose key is not in `keys` passes only when a later rekey entry whose key is (and
/// whose MAC of the entries before it holds) covers it. Rows without a key id were sealed with
/// the chain's first key: the old key of the first rekey entry, or else `legacy_key_id` (the
/// configured key's id).
pub fn verify_with(keys: &Keys, legacy_key_id: &str, entries: &[AuditRecord]) -> Result<ChainHead, ChainError> {
    walk(keys, legacy_key_id, entries).map(|(head, _)| head)
}

/// `verify_with`, also returning the id of the key in force at the head (None: empty log).
fn walk(keys: &Keys, legacy_key_id: &str, entries: &[AuditRecord]) -> Result<(ChainHead, Option<String>), ChainError> {
    let legacy = entries
        .iter()
        .find(|r| r.entry.action == REKEY_ACTION && !r.key_id.is_empty())
        .and_then(|r| serde_json::from_str::<RekeyDetail>(&r.entry.detail).ok())
        .map(|d| d.old_key_id)
        .unwrap_or_else(|| legacy_key_id.to_string());
    let mut prev = GENESIS_MAC.to_string();
    let mut expected = 1;
    let mut in_force: Option<String> = None;
    let mut keyed = false;
    // The first entry whose MAC could not be checked, until a rekey entry covers it.
    let mut uncovered: Option<(i64, String)> = None;
    for (i, r) in entries.iter().enumerate() {
        if r.seq != expected {
            return Err(ChainError::Gap { seq: r.seq, expected });
        }
        if r.prev_mac != prev {
            return Err(ChainError::Link { seq: r.seq });
        }
        let id = if r.key_id.is_empty() {
            if keyed {
                return Err(ChainError::NoKeyId { seq: r.seq });
            }
            legacy.clone()
        } else {
            keyed = true;
            r.key_id.clone()
        };
        let key = keys.get(&id);
        if let Some(k) = key
            && mac_of(k, &prev, r.seq, &r.key_id, &r.entry) != r.mac
        {
            return Err(ChainError::Mac { seq: r.seq });
        }
        if r.entry.action == REKEY_ACTION {
            let bad = |reason: String| ChainError::Rekey { seq: r.seq, reason };
            if r.key_id.is_empty() {
                return Err(bad("it names no key id".into()));
            }
            let d: RekeyDetail = serde_json::from_str(&r.entry.detail).map_err(|e| bad(format!("detail: {e}")))?;
            if d.new_key_id != r.key_id {
                return Err(bad(format!(
                    "sealed with {} but hands over to {}",
                    r.key_id, d.new_key_id
                )));
            }
            if let Some(f) = &in_force
                && *f != d.old_key_id
            {
                return Err(bad(format!(
                    "hands over from {} but the key in force is {f}",
                    d.old_key_id
                )));
            }
            if d.old_head != format!("{}:{prev}", r.seq - 1) {
                return Err(bad(format!(
                    "names the head {} but follows {}:{prev}",
                    d.old_head,
                    r.seq - 1
                )));
            }
            if let Some(new) = key {
                if shadow(new, &entries[..i]) != d.rekeyed_mac {
                    return Err(bad("the entries before it are not the ones it sealed".into()));
                }
                if let Some(old) = keys.get(&d.old_key_id)
                    && handover_sig(old, r.seq, &prev, &d.new_key_id, &d.rekeyed_mac) != d.old_key_sig
                {
                    return Err(bad("the old key's signature does not match".into()));
                }
                // Everything before it is vouched for by a key we hold.
                uncovered = None;
            }
        } else if let Some(f) = &in_force
            && *f != id
        {
            return Err(ChainError::KeyOutOfTurn {
                seq: r.seq,
                key_id: id,
                in_force: f.clone(),
            });
        }
        if key.is_none() && uncovered.is_none() {
            uncovered = Some((r.seq, id.clone()));
        }
        in_force = Some(id);
        prev = r.mac.clone();
        expected += 1;
    }
    if let Some((seq, key_id)) = uncovered {
        return Err(ChainError::UnknownKey { seq, key_id });
    }
    Ok((
        ChainHead {
            seq: expected - 1,
            mac: prev,
        },
        in_force,
    ))
}

/// Checks that the head recorded earlier (`audit head`) is still in the log with its MAC: a log
/// cut back to an earlier head, or emptied, fails even when what is left verifies. (A log cut
/// back and then written again has another MAC at that sequence number.)
pub fn check_head(entries: &[AuditRecord], expected: &ChainHead) -> Result<(), ChainError> {
    if expected.seq == 0 {
        return if expected.mac == GENESIS_MAC {
            Ok(())
        } else {
            Err(ChainError::HeadDiffers {
                seq: 0,
                expected: expected.mac.clone(),
                found: GENESIS_MAC.into(),
            })
        };
    }
    match entries.iter().find(|r| r.seq == expected.seq) {
        None => Err(ChainError::CutBack {
            expected: expected.clone(),
            last: entries.last().map(|r| r.seq).unwrap_or(0),
        }),
        Some(r) if r.mac != expected.mac => Err(ChainError::HeadDiffers {
            seq: r.seq,
            expected: expected.mac.clone(),
            found: r.mac.clone(),
        }),
        Some(_) => Ok(()),
    }
}

/// The entry that hands the chain over from `old_key` to `new_key`, to be sealed with the new key
/// right after `entries` (the whole log, in order). The log must verify with the old key (it is
/// the key in force, or the log is empty), so a tampered log is never blessed by a new key.
pub fn rekey_entry(
    old_key: &[u8],
    new_key: &[u8],
    entries: &[AuditRecord],
    actor: &str,
) -> Result<NewAuditEntry, ChainError> {
    let (old_id, new_id) = (key_id(old_key), key_id(new_key));
    let (head, in_force) = walk(&Keys::new([old_key.to_vec()]), &old_id, entries)?;
    let seq = head.seq + 1;
    let refuse = |reason: String| ChainError::Rekey { seq, reason };
    if old_id == new_id {
        return Err(refuse("the new key is the old key".into()));
    }
    if let Some(f) = in_force
        && f != old_id
    {
        return Err(refuse(format!(
            "the key in force is {f}, not the old key given ({old_id})"
        )));
    }
    let rekeyed_mac = shadow(new_key, entries);
    let detail = RekeyDetail {
        old_key_sig: handover_sig(old_key, seq, &head.mac, &new_id, &rekeyed_mac),
        old_key_id: old_id.clone(),
        new_key_id: new_id.clone(),
        old_head: head.to_string(),
        rekeyed_mac,
    };
    let detail = serde_json::to_value(&detail).map_err(|e| refuse(e.to_string()))?;
    Ok(NewAuditEntry::new(actor, REKEY_ACTION, "audit", "ok", detail))
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

        // A chain recomputed with another key does not verify with the real one, whether it
        // names its own key id or claims the real one.
        let forged = chain(b"not-the-key", 5);
        assert_eq!(
            verify(b"k", &forged),
            Err(ChainError::UnknownKey {
                seq: 1,
                key_id: key_id(b"not-the-key")
            })
        );
        let mut claimed = forged.clone();
        for r in &mut claimed {
            r.key_id = key_id(b"k");
        }
        assert_eq!(verify(b"k", &claimed), Err(ChainError::Mac { seq: 1 }));
    }

    /// Appends entries to `c` sealed with `key`.
    fn extend(c: &mut Vec<AuditRecord>, key: &[u8], n: i64) {
        for _ in 0..n {
            let seq = c.len() as i64 + 1;
            let prev = c
                .last()
                .map(|r| r.mac.clone())
                .unwrap_or_else(|| GENESIS_MAC.to_string());
            let mut e = NewAuditEntry::new("bob", "view", "console", "ok", serde_json::json!({"seq": seq}));
            e.ts_ms = 1_700_000_000_000 + seq;
            c.push(seal(key, seq, &prev, e));
        }
    }

    fn rekeyed(c: &mut Vec<AuditRecord>, old: &[u8], new: &[u8]) {
        let e = rekey_entry(old, new, c, "cli").expect("rekey");
        let prev = c
            .last()
            .map(|r| r.mac.clone())
            .unwrap_or_else(|| GENESIS_MAC.to_string());
        let seq = c.len() as i64 + 1;
        c.push(seal(new, seq, &prev, e));
    }

    #[test]
    fn each_entry_names_its_key_id_and_the_mac_covers_it() {
        let c = chain(b"k", 2);
        assert_eq!(key_id(b"k").len(), 16);
        assert_ne!(key_id(b"k"), key_id(b"k2"));
        assert!(c.iter().all(|r| r.key_id == key_id(b"k")));
        assert!(!key_id(b"k").contains('k'), "the id is derived, not the key");
        // Changing the id of an entry (say, to pass it off as an old key's) breaks its MAC.
        let mut relabelled = c.clone();
        relabelled[1].key_id = key_id(b"k2");
        assert!(verify_with(&Keys::new([b"k".to_vec(), b"k2".to_vec()]), &key_id(b"k"), &relabelled).is_err());
        // Stripping the id (to pass it off as a row from before key ids) breaks it as well.
        let mut stripped = c.clone();
        stripped[0].key_id.clear();
        assert_eq!(verify(b"k", &stripped), Err(ChainError::Mac { seq: 1 }));
    }

    /// Rows sealed before key ids existed: the old canonical form, no id.
    fn legacy_chain(key: &[u8], n: i64) -> Vec<AuditRecord> {
        let mut c = chain(key, n);
        let mut prev = GENESIS_MAC.to_string();
        for r in &mut c {
            r.key_id.clear();
            r.prev_mac = prev.clone();
            r.mac = mac_of(key, &prev, r.seq, "", &r.entry);
            prev = r.mac.clone();
        }
        c
    }

    #[test]
    fn rows_without_a_key_id_verify_with_the_chains_first_key() -> Result<(), Box<dyn std::error::Error>> {
        let mut c = legacy_chain(b"old-key", 3);
        assert_eq!(verify(b"old-key", &c)?.seq, 3);
        extend(&mut c, b"old-key", 2);
        assert_eq!(verify(b"old-key", &c)?.seq, 5);
        // After a rotation the rows without an id belong to the rekey's old key, and the new key
        // alone verifies them (through the rekey entry).
        rekeyed(&mut c, b"old-key", b"new-key");
        extend(&mut c, b"new-key", 2);
        assert_eq!(verify(b"new-key", &c)?.seq, 8);
        // A row without an id after rows with one is refused.
        let mut late = chain(b"k", 2);
        let e = late[1].entry.clone();
        let prev = late[1].mac.clone();
        late.push(AuditRecord {
            seq: 3,
            mac: mac_of(b"k", &prev, 3, "", &e),
            entry: e,
            prev_mac: prev,
            key_id: String::new(),
        });
        assert_eq!(verify(b"k", &late), Err(ChainError::NoKeyId { seq: 3 }));
        Ok(())
    }

    #[test]
    fn a_rekey_hands_over_with_both_keys_and_the_new_key_verifies_everything() -> Result<(), Box<dyn std::error::Error>>
    {
        let mut c = chain(b"old-key-0123456789", 4);
        rekeyed(&mut c, b"old-key-0123456789", b"new-key-0123456789");
        extend(&mut c, b"new-key-0123456789", 3);
        let before_head = ChainHead {
            seq: 4,
            mac: c[3].mac.clone(),
        };
        // The new key alone verifies the whole log; both keys do too (and check the old key's
        // signature); the old key alone does not (the entries after the rotation are not its).
        assert_eq!(verify(b"new-key-0123456789", &c)?.seq, 8);
        let both = Keys::new([b"old-key-0123456789".to_vec(), b"new-key-0123456789".to_vec()]);
        assert_eq!(verify_with(&both, "", &c)?.seq, 8);
        assert!(matches!(
            verify(b"old-key-0123456789", &c),
            Err(ChainError::UnknownKey { seq: 5, .. })
        ));
        // Entries were not rewritten: a head recorded before the rotation still holds.
        check_head(&c, &before_head)?;

        // Someone holding the old key (say it leaked) rewrites an entry before the rotation
        // and seals it again: the rekey entry's MAC under the new key catches it.
        let mut forged = c.clone();
        forged[1].entry.actor = "mallory".into();
        let mut prev = forged[0].mac.clone();
        for r in forged.iter_mut().take(4).skip(1) {
            let e = r.entry.clone();
            *r = seal(b"old-key-0123456789", r.seq, &prev, e);
            prev = r.mac.clone();
        }
        assert!(verify_with(&Keys::new([b"old-key-0123456789".to_vec()]), "", &forged[..4]).is_ok());
        assert!(verify(b"new-key-0123456789", &forged).is_err());

        // ... or appends with the old key after the rotation: out of turn.
        let mut late = c.clone();
        extend(&mut late, b"old-key-0123456789", 1);
        assert!(matches!(
            verify_with(&both, "", &late),
            Err(ChainError::KeyOutOfTurn { seq: 9, .. })
        ));

        // A rekey entry the old key did not sign fails where the old key is known.
        let mut unsigned = c.clone();
        let mut d: RekeyDetail = serde_json::from_str(&unsigned[4].entry.detail)?;
        d.old_key_sig = "00".repeat(32);
        unsigned[4].entry.detail = serde_json::to_string(&d)?;
        unsigned[4] = seal(b"new-key-0123456789", 5, &unsigned[3].mac, unsigned[4].entry.clone());
        assert!(matches!(
            verify_with(&both, "", &unsigned[..5]),
            Err(ChainError::Rekey { seq: 5, .. })
        ));

        // Rotating again (to a third key) verifies with the third key alone.
        rekeyed(&mut c, b"new-key-0123456789", b"third-key-0123456789");
        extend(&mut c, b"third-key-0123456789", 1);
        assert_eq!(verify(b"third-key-0123456789", &c)?.seq, 10);
        Ok(())
    }

    #[test]
    fn a_rekey_refuses_a_tampered_log_the_same_key_and_a_key_not_in_force() {
        let c = chain(b"old-key-0123456789", 3);
        let mut tampered = c.clone();
        tampered[1].entry.actor = "mallory".into();
        assert_eq!(
            rekey_entry(b"old-key-0123456789", b"new-key-0123456789", &tampered, "cli"),
            Err(ChainError::Mac { seq: 2 })
        );
        assert!(rekey_entry(b"old-key-0123456789", b"old-key-0123456789", &c, "cli").is_err());
        assert!(rekey_entry(b"wrong-key-0123456789", b"new-key-0123456789", &c, "cli").is_err());
    }

    #[test]
    fn an_expected_head_catches_a_cut_back_or_emptied_log() -> Result<(), Box<dyn std::error::Error>> {
        let c = chain(b"k", 5);
        let head = verify(b"k", &c)?;
        check_head(&c, &head)?;
        check_head(&c, &ChainHead::parse(&format!("3:{}", c[2].mac))?)?;
        // Cut back to entry 3: what is left verifies, but the recorded head is gone.
        assert!(verify(b"k", &c[..3]).is_ok());
        assert_eq!(
            check_head(&c[..3], &head),
            Err(ChainError::CutBack {
                expected: head.clone(),
                last: 3
            })
        );
        assert!(matches!(
            check_head(&[], &head),
            Err(ChainError::CutBack { last: 0, .. })
        ));
        // Cut back and written again: entry 5 exists with another MAC.
        let mut regrown = c[..4].to_vec();
        let mut e = c[4].entry.clone();
        e.actor = "mallory".into();
        regrown.push(seal(b"k", 5, &c[3].mac, e));
        assert!(verify(b"k", &regrown).is_ok());
        assert!(matches!(
            check_head(&regrown, &head),
            Err(ChainError::HeadDiffers { seq: 5, .. })
        ));
        assert_eq!(ChainHead::parse(&head.to_string())?, head);
        assert!(ChainHead::parse("5").is_err());
        assert!(ChainHead::parse("x:00").is_err());
        Ok(())
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
