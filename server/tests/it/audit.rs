//! The audit log's key rotation, recorded heads and what `token.revoke` reports, on SQLite and
//! PostgreSQL, in process (the CLI around these functions is in `cli.rs`).

use crate::common;
use app::ssr::audit::{self, ChainError, ChainHead, NewAuditEntry};
use app::ssr::store::{Backend, SqlStore, Store, TokenRecord, TokenRevocation};
use server::audit_ops;
use std::sync::Arc;

const OLD: &[u8] = b"old-audit-key-0123456789";
const NEW: &[u8] = b"new-audit-key-0123456789";

/// A fresh database of `backend`: its URL (and the directory that holds a SQLite file).
async fn database(backend: Backend) -> (String, Option<tempfile::TempDir>) {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("tempdir");
            (format!("sqlite://{}/audit.db", dir.path().display()), Some(dir))
        }
        Backend::Postgres => (common::fresh_postgres().await, None),
    }
}

/// A console's store on `url` sealing with `key` (empty: none).
async fn store(url: &str, key: &[u8]) -> Arc<dyn Store> {
    let s = SqlStore::connect(url)
        .await
        .expect("connect")
        .with_audit_key(key.to_vec());
    s.migrate().await.expect("migrate");
    s.into_arc()
}

fn entry(i: i64) -> NewAuditEntry {
    NewAuditEntry::new("alice", "login", "console", "ok", serde_json::json!({"i": i}))
}

async fn raw(url: &str) -> sqlx::AnyConnection {
    use sqlx::Connection;
    sqlx::AnyConnection::connect(url).await.expect("raw connection")
}

/// Removes the append-only triggers, as an attacker with database access would.
async fn drop_triggers(url: &str, backend: Backend) {
    let mut conn = raw(url).await;
    let drops: &[&str] = match backend {
        Backend::Sqlite => &[
            "DROP TRIGGER audit_entries_no_update",
            "DROP TRIGGER audit_entries_no_delete",
        ],
        Backend::Postgres => &["DROP TRIGGER audit_entries_no_change ON audit_entries"],
    };
    for d in drops {
        sqlx::query(d).execute(&mut conn).await.expect("drop trigger");
    }
}

/// Rotation: the log verifies with the new key alone, a head recorded before it still holds, a
/// console still on the old key writes nothing more, and a rekey with a key not in force (or of a
/// tampered log) is refused and writes nothing.
async fn a_rekeyed_log_verifies_with_the_new_key(backend: Backend) {
    let (url, _dir) = database(backend).await;
    let old_console = store(&url, OLD).await;
    for i in 1..=3 {
        old_console.audit_append(entry(i)).await.expect("append");
    }
    let before = audit_ops::verify(old_console.as_ref(), OLD, vec![], None)
        .await
        .expect("read")
        .expect("verifies before");
    assert_eq!(before.seq, 3);
    let all = old_console.audit_all(None).await.expect("all");
    assert!(
        all.iter().all(|r| r.key_id == audit::key_id(OLD)),
        "each entry names its key"
    );

    // A rekey from a key that is not in force is refused and writes nothing.
    let cli = store(&url, b"").await;
    let refused = audit_ops::rekey(cli.as_ref(), b"some-other-key-0123456789", NEW, "cli:ops").await;
    assert!(refused.is_err(), "{refused:?}");
    assert_eq!(cli.audit_all(None).await.expect("all").len(), 3);

    let r = audit_ops::rekey(cli.as_ref(), OLD, NEW, "cli:ops")
        .await
        .expect("rekey");
    assert_eq!((r.seq, r.entry.action.as_str()), (4, "audit.rekey"));
    assert_eq!(r.key_id, audit::key_id(NEW));
    let detail: serde_json::Value = serde_json::from_str(&r.entry.detail).expect("detail");
    assert_eq!(detail["old_key_id"], audit::key_id(OLD).as_str());
    assert_eq!(detail["old_head"], before.to_string().as_str());

    // The old console fails closed: its entry would not verify.
    assert!(
        old_console.audit_append(entry(9)).await.is_err(),
        "the old key writes no more"
    );
    let new_console = store(&url, NEW).await;
    new_console
        .audit_append(entry(5))
        .await
        .expect("append with the new key");

    let head = audit_ops::verify(new_console.as_ref(), NEW, vec![], Some(&before))
        .await
        .expect("read")
        .expect("the new key alone verifies the whole log, and the old head is still there");
    assert_eq!(head.seq, 5);
    audit_ops::verify(new_console.as_ref(), NEW, vec![OLD.to_vec()], None)
        .await
        .expect("read")
        .expect("with the old key too (its signature of the hand-over is checked)");
    let old_only = audit_ops::verify(new_console.as_ref(), OLD, vec![], None)
        .await
        .expect("read");
    assert!(
        matches!(old_only, Err(ChainError::UnknownKey { seq: 4, .. })),
        "{old_only:?}"
    );

    // Someone rewrites an entry from before the rotation (with the old key, had it leaked):
    // the rekey entry's MAC under the new key catches it.
    drop_triggers(&url, backend).await;
    let all = new_console.audit_all(None).await.expect("all");
    let mut e = all[1].entry.clone();
    e.actor = "mallory".into();
    let forged = audit::seal(OLD, 2, &all[0].mac, e);
    let mut conn = raw(&url).await;
    sqlx::query("UPDATE audit_entries SET actor = $1, mac = $2 WHERE seq = 2")
        .bind(&forged.entry.actor)
        .bind(&forged.mac)
        .execute(&mut conn)
        .await
        .expect("tamper");
    sqlx::query("UPDATE audit_entries SET prev_mac = $1 WHERE seq = 3")
        .bind(&forged.mac)
        .execute(&mut conn)
        .await
        .expect("tamper");
    let verified = audit_ops::verify(new_console.as_ref(), NEW, vec![], None)
        .await
        .expect("read");
    assert!(verified.is_err(), "{verified:?}");
    // And a rekey now refuses to bless the tampered log.
    let again = audit_ops::rekey(cli.as_ref(), NEW, b"third-audit-key-0123456789", "cli:ops").await;
    assert!(again.is_err(), "{again:?}");
}

/// A head recorded earlier catches a log cut back to an earlier head (what is left verifies),
/// emptied, or cut back and written again.
async fn an_expected_head_catches_a_cut_back_log(backend: Backend) {
    let (url, _dir) = database(backend).await;
    let s = store(&url, OLD).await;
    for i in 1..=5 {
        s.audit_append(entry(i)).await.expect("append");
    }
    let recorded = audit_ops::verify(s.as_ref(), OLD, vec![], None)
        .await
        .expect("read")
        .expect("verifies");
    let recorded = ChainHead::parse(&recorded.to_string()).expect("SEQ:MAC round trip");
    drop_triggers(&url, backend).await;
    let mut conn = raw(&url).await;
    sqlx::query("DELETE FROM audit_entries WHERE seq > 3")
        .execute(&mut conn)
        .await
        .expect("cut back");
    let plain = audit_ops::verify(s.as_ref(), OLD, vec![], None).await.expect("read");
    assert_eq!(plain.map(|h| h.seq), Ok(3), "a cut tail alone still verifies");
    let cut = audit_ops::verify(s.as_ref(), OLD, vec![], Some(&recorded))
        .await
        .expect("read");
    assert!(matches!(cut, Err(ChainError::CutBack { last: 3, .. })), "{cut:?}");

    // Written again after the cut: entry 5 exists, with another MAC.
    s.audit_append(entry(40)).await.expect("append");
    s.audit_append(entry(50)).await.expect("append");
    let regrown = audit_ops::verify(s.as_ref(), OLD, vec![], Some(&recorded))
        .await
        .expect("read");
    assert!(
        matches!(regrown, Err(ChainError::HeadDiffers { seq: 5, .. })),
        "{regrown:?}"
    );

    sqlx::query("DELETE FROM audit_entries")
        .execute(&mut conn)
        .await
        .expect("empty");
    let emptied = audit_ops::verify(s.as_ref(), OLD, vec![], Some(&recorded))
        .await
        .expect("read");
    assert!(
        matches!(emptied, Err(ChainError::CutBack { last: 0, .. })),
        "{emptied:?}"
    );
}

/// Rows written before key ids (the column's default, '') verify with the configured key, and
/// with the new key alone after a rotation.
async fn rows_without_a_key_id_stay_verifiable(backend: Backend) {
    use hmac::Mac;
    let (url, _dir) = database(backend).await;
    let _ = store(&url, b"").await;
    let mut conn = raw(&url).await;
    let mut prev = audit::GENESIS_MAC.to_string();
    for seq in 1..=3_i64 {
        // As the console sealed entries before key ids: no id in the row nor under the MAC.
        let canonical = serde_json::json!([
            seq,
            1_700_000_000_000_i64 + seq,
            "alice",
            "login",
            "console",
            "ok",
            "{}",
            ""
        ]);
        let mut mac = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(OLD).expect("key");
        mac.update(prev.as_bytes());
        mac.update(b"\n");
        mac.update(canonical.to_string().as_bytes());
        let mac = hex::encode(mac.finalize().into_bytes());
        sqlx::query(
            "INSERT INTO audit_entries (seq, ts_ms, actor, action, target, outcome, detail, request_id, prev_mac, mac) \
             VALUES ($1, $2, 'alice', 'login', 'console', 'ok', '{}', '', $3, $4)",
        )
        .bind(seq)
        .bind(1_700_000_000_000_i64 + seq)
        .bind(&prev)
        .bind(&mac)
        .execute(&mut conn)
        .await
        .expect("legacy row");
        prev = mac;
    }
    let s = store(&url, OLD).await;
    assert!(
        s.audit_all(None)
            .await
            .expect("all")
            .iter()
            .all(|r| r.key_id.is_empty())
    );
    s.audit_append(entry(4)).await.expect("append after the migration");
    let head = audit_ops::verify(s.as_ref(), OLD, vec![], None).await.expect("read");
    assert_eq!(head.map(|h| h.seq), Ok(4));
    audit_ops::rekey(s.as_ref(), OLD, NEW, "cli:ops").await.expect("rekey");
    let after = audit_ops::verify(s.as_ref(), NEW, vec![], None).await.expect("read");
    assert_eq!(after.map(|h| h.seq), Ok(5));
}

fn token(id: &str) -> TokenRecord {
    TokenRecord {
        id: id.into(),
        name: "ci".into(),
        role: "viewer".into(),
        token_hash: format!("hash-{id}"),
        created_by: "root".into(),
        created_ms: 1,
        expires_ms: i64::MAX,
        revoked_ms: None,
        last_used_ms: None,
    }
}

/// The revocation and its entry are one transaction, and the entry says what happened; without
/// an audit entry there is no revocation.
async fn a_token_revocation_is_audited_with_what_it_did(backend: Backend) {
    let (url, _dir) = database(backend).await;
    let unaudited = store(&url, b"").await;
    unaudited.token_create(&token("aaaaaaaaaaaa")).await.expect("token");
    let report = |actor: &'static str| -> app::ssr::store::RevocationAudit {
        Box::new(move |done: TokenRevocation| {
            NewAuditEntry::new(
                actor,
                "token.revoke",
                "token",
                "ok",
                serde_json::json!({"done": format!("{done:?}")}),
            )
        })
    };
    assert!(
        unaudited
            .token_revoke_audited("aaaaaaaaaaaa", 10, report("root"))
            .await
            .is_err(),
        "no audit key: refused"
    );
    let t = unaudited.token_get("aaaaaaaaaaaa").await.expect("get").expect("token");
    assert_eq!(t.revoked_ms, None, "the token stays as it was");

    let s = store(&url, OLD).await;
    assert_eq!(
        s.token_revoke_audited("aaaaaaaaaaaa", 20, report("root"))
            .await
            .expect("revoke"),
        TokenRevocation::Revoked { revoked_ms: 20 }
    );
    assert_eq!(
        s.token_revoke_audited("aaaaaaaaaaaa", 30, report("root"))
            .await
            .expect("again"),
        TokenRevocation::AlreadyRevoked { revoked_ms: 20 }
    );
    assert_eq!(
        s.token_revoke_audited("bbbbbbbbbbbb", 40, report("root"))
            .await
            .expect("unknown"),
        TokenRevocation::Unknown
    );
    let details: Vec<String> = s
        .audit_all(None)
        .await
        .expect("all")
        .into_iter()
        .map(|r| r.entry.detail)
        .collect();
    assert_eq!(details.len(), 3, "{details:?}");
    assert!(details[0].contains("Revoked { revoked_ms: 20 }"), "{details:?}");
    assert!(details[1].contains("AlreadyRevoked { revoked_ms: 20 }"), "{details:?}");
    assert!(details[2].contains("Unknown"), "{details:?}");
}

#[tokio::test]
async fn sqlite_a_rekeyed_log_verifies_with_the_new_key() {
    a_rekeyed_log_verifies_with_the_new_key(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_a_rekeyed_log_verifies_with_the_new_key() {
    a_rekeyed_log_verifies_with_the_new_key(Backend::Postgres).await;
}

#[tokio::test]
async fn sqlite_an_expected_head_catches_a_cut_back_log() {
    an_expected_head_catches_a_cut_back_log(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_an_expected_head_catches_a_cut_back_log() {
    an_expected_head_catches_a_cut_back_log(Backend::Postgres).await;
}

#[tokio::test]
async fn sqlite_rows_without_a_key_id_stay_verifiable() {
    rows_without_a_key_id_stay_verifiable(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_rows_without_a_key_id_stay_verifiable() {
    rows_without_a_key_id_stay_verifiable(Backend::Postgres).await;
}

#[tokio::test]
async fn sqlite_a_token_revocation_is_audited_with_what_it_did() {
    a_token_revocation_is_audited_with_what_it_did(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_a_token_revocation_is_audited_with_what_it_did() {
    a_token_revocation_is_audited_with_what_it_did(Backend::Postgres).await;
}

/// Through the API: revoking a token nobody has, or one revoked before, answers 404 / 409 and
/// the log says so ("failed", with why); it never records a revocation that did not happen.
#[tokio::test]
async fn revoking_an_unknown_or_revoked_token_is_audited_as_failed_not_ok() {
    let app = common::spawn_app_with("").await;
    let carol = app.session_as("carol", "admin").await;
    let entries = |app: &common::TestApp| {
        let store = app.state.store.clone();
        async move {
            store
                .audit_all(None)
                .await
                .expect("audit")
                .into_iter()
                .filter(|r| r.entry.action == "token.revoke")
                .map(|r| {
                    let detail: serde_json::Value = serde_json::from_str(&r.entry.detail).expect("detail");
                    (r.entry.target, r.entry.outcome, detail)
                })
                .collect::<Vec<_>>()
        }
    };

    let (status, body) = app.call_as(&carol, "tokens/revoke", &[("id", "0123456789ab")]).await;
    assert_eq!(status, 404, "{body}");
    let seen = entries(&app).await;
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(
        (seen[0].0.as_str(), seen[0].1.as_str()),
        ("token:0123456789ab", "failed"),
        "{seen:?}"
    );
    assert_eq!(seen[0].2["reason"], "no such token");

    let r = carol
        .post(format!("{}/api/v1/tokens/create", app.url))
        .header("origin", &app.url)
        .header("accept-encoding", "br, gzip")
        .form(&[("name", "ci"), ("role", "viewer"), ("days", "1")])
        .send()
        .await
        .expect("create");
    assert_eq!(r.status(), 200);
    // The token is shown once: never stored by a cache, never compressed (BREACH).
    assert_eq!(
        r.headers().get("cache-control").and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    assert!(r.headers().get("content-encoding").is_none(), "{:?}", r.headers());
    let created: serde_json::Value = r.json().await.expect("token");
    let id = created["info"]["id"].as_str().expect("id").to_string();
    let (status, body) = app.call_as(&carol, "tokens/revoke", &[("id", &id)]).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app.call_as(&carol, "tokens/revoke", &[("id", &id)]).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| m.contains("already revoked")),
        "{body}"
    );

    let revoked_ms = app
        .state
        .store
        .token_get(&id)
        .await
        .expect("get")
        .and_then(|t| t.revoked_ms)
        .expect("revoked");
    let seen = entries(&app).await;
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert_eq!(seen[1].1, "ok");
    assert_eq!(
        seen[1].2["revoked_ms"], revoked_ms,
        "the entry reports the update it follows"
    );
    assert_eq!(seen[2].1, "failed");
    assert_eq!(seen[2].2["reason"], "already revoked");
    assert_eq!(seen[2].2["revoked_ms"], revoked_ms);
}
