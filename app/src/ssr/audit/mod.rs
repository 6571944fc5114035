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

mod export;
#[cfg(test)]
mod tests;

pub use export::{to_csv, to_jsonl};
