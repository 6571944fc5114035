//! The chain, its keys, the hand-over and the exports.

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
fn a_rekey_hands_over_with_both_keys_and_the_new_key_verifies_everything() -> Result<(), Box<dyn std::error::Error>> {
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
