//! The same storage tests on both backends: SQLite (file in a temp dir) and PostgreSQL (a fresh
//! database on the server scripts/test.sh starts).

use crate::common;
use app::ssr::audit::{self, ChainError, NewAuditEntry};
use app::ssr::store::{AuditFilter, Backend, SqlStore, Store};
use std::sync::Arc;

const KEY: &[u8] = b"storage-test-key-0123456789";

async fn sqlite() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}/nested/dir/t.db", dir.path().display());
    let store = SqlStore::connect(&url)
        .await
        .expect("sqlite")
        .with_audit_key(KEY.to_vec());
    store.migrate().await.expect("migrate");
    (store.into_arc(), dir)
}

async fn postgres() -> Arc<dyn Store> {
    let url = common::fresh_postgres().await;
    let store = SqlStore::connect(&url)
        .await
        .expect("postgres")
        .with_audit_key(KEY.to_vec());
    store.migrate().await.expect("migrate");
    store.into_arc()
}

fn entry(actor: &str, action: &str, ts: i64) -> NewAuditEntry {
    let mut e = NewAuditEntry::new(actor, action, "console", "ok", serde_json::json!({"n": ts}));
    e.ts_ms = ts;
    e
}

async fn users_and_sessions(s: &dyn Store) {
    let before = s
        .upsert_user("alice", "alice@example.com", "Alice", "viewer", 1000)
        .await
        .expect("insert");
    assert_eq!(before, None, "first login");
    let before = s
        .upsert_user("alice", "alice@new.example.com", "Alice A.", "responder", 2000)
        .await
        .expect("update");
    assert_eq!(
        before.map(|b| (b.roles, b.last_login_ms)),
        Some(("viewer".to_string(), 1000)),
        "the user as before"
    );
    let u = s.user("alice").await.expect("lookup").expect("alice");
    assert_eq!(
        (u.first_seen_ms, u.last_login_ms, u.email.as_str(), u.roles.as_str()),
        (1000, 2000, "alice@new.example.com", "responder")
    );
    assert_eq!(s.user("nobody").await.expect("lookup"), None);

    assert!(s.session_create("s1", "{\"a\":1}", 5000).await.expect("create"));
    assert!(
        !s.session_create("s1", "{\"a\":2}", 5000).await.expect("collision"),
        "an existing id is not overwritten"
    );
    assert_eq!(
        s.session_load("s1", 4000).await.expect("load").as_deref(),
        Some("{\"a\":1}")
    );
    assert_eq!(
        s.session_load("s1", 6000).await.expect("load expired"),
        None,
        "expired sessions do not load"
    );
    s.session_save("s1", "{\"a\":3}", 9000).await.expect("save");
    assert_eq!(
        s.session_load("s1", 6000).await.expect("load").as_deref(),
        Some("{\"a\":3}")
    );
    s.session_save("s2", "{}", 100).await.expect("save s2");
    assert_eq!(s.session_delete_expired(6000).await.expect("sweep"), 1);
    s.session_delete("s1").await.expect("delete");
    assert_eq!(s.session_load("s1", 0).await.expect("load deleted"), None);
}

async fn audit_chain(s: Arc<dyn Store>) {
    for i in 1..=5 {
        let r = s
            .audit_append(entry(if i % 2 == 0 { "bob" } else { "alice" }, "login", i))
            .await
            .expect("append");
        assert_eq!(r.seq, i);
    }
    // Concurrent appends are serialised into one unbroken chain.
    let mut handles = Vec::new();
    for i in 0..20 {
        let s = s.clone();
        handles.push(tokio::spawn(async move {
            s.audit_append(entry("carol", "view", 100 + i)).await
        }));
    }
    for h in handles {
        h.await.expect("join").expect("concurrent append");
    }
    let all = s.audit_all(None).await.expect("all");
    assert_eq!(all.len(), 25);
    let head = audit::verify(KEY, &all).expect("chain verifies");
    assert_eq!(head.seq, 25);
    assert!(audit::verify(b"another-key-entirely", &all).is_err());

    let bobs = s
        .audit_list(&AuditFilter {
            actor: Some("bob".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("filter");
    assert_eq!(
        bobs.iter().map(|r| r.seq).collect::<Vec<_>>(),
        vec![4, 2],
        "newest first, bob only"
    );
    let since = s.audit_all(Some(100)).await.expect("since");
    assert_eq!(since.len(), 20);
}

/// The database refuses to change the log; an attacker who gets around that is caught by verify.
async fn append_only_and_tamper_evident(s: Arc<dyn Store>, backend: Backend, url_for_raw: &str) {
    for i in 1..=3 {
        s.audit_append(entry("alice", "login", i)).await.expect("append");
    }
    use sqlx::Connection;
    let mut raw = sqlx::AnyConnection::connect(url_for_raw).await.expect("raw connection");
    let update = sqlx::query("UPDATE audit_entries SET actor = 'mallory' WHERE seq = 2")
        .execute(&mut raw)
        .await;
    assert!(update.is_err(), "UPDATE must be refused");
    assert!(
        sqlx::query("DELETE FROM audit_entries WHERE seq = 3")
            .execute(&mut raw)
            .await
            .is_err(),
        "DELETE refused"
    );
    let drop = match backend {
        Backend::Sqlite => "DROP TRIGGER audit_entries_no_update",
        Backend::Postgres => "DROP TRIGGER audit_entries_no_change ON audit_entries",
    };
    sqlx::query(drop).execute(&mut raw).await.expect("drop trigger");
    sqlx::query("UPDATE audit_entries SET actor = 'mallory' WHERE seq = 2")
        .execute(&mut raw)
        .await
        .expect("tamper");
    let all = s.audit_all(None).await.expect("all");
    assert_eq!(audit::verify(KEY, &all), Err(ChainError::Mac { seq: 2 }));
}

#[tokio::test]
async fn sqlite_users_and_sessions() {
    let (s, _dir) = sqlite().await;
    assert_eq!(s.backend(), Backend::Sqlite);
    users_and_sessions(s.as_ref()).await;
}

#[tokio::test]
async fn postgres_users_and_sessions() {
    let s = postgres().await;
    assert_eq!(s.backend(), Backend::Postgres);
    users_and_sessions(s.as_ref()).await;
}

#[tokio::test]
async fn sqlite_audit_chain() {
    let (s, _dir) = sqlite().await;
    audit_chain(s).await;
}

#[tokio::test]
async fn postgres_audit_chain() {
    audit_chain(postgres().await).await;
}

#[tokio::test]
async fn sqlite_audit_is_append_only_and_tamper_evident() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}/t.db", dir.path().display());
    let store = SqlStore::connect(&url)
        .await
        .expect("sqlite")
        .with_audit_key(KEY.to_vec());
    store.migrate().await.expect("migrate");
    append_only_and_tamper_evident(store.into_arc(), Backend::Sqlite, &url).await;
}

#[tokio::test]
async fn postgres_audit_is_append_only_and_tamper_evident() {
    let url = common::fresh_postgres().await;
    let store = SqlStore::connect(&url)
        .await
        .expect("postgres")
        .with_audit_key(KEY.to_vec());
    store.migrate().await.expect("migrate");
    append_only_and_tamper_evident(store.into_arc(), Backend::Postgres, &url).await;
}

#[tokio::test]
async fn migrations_are_idempotent() {
    let (s, _dir) = sqlite().await;
    s.migrate().await.expect("second run");
    let p = postgres().await;
    p.migrate().await.expect("second run");
}

#[tokio::test]
async fn a_store_without_the_audit_key_writes_no_audit_entry() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}/nokey.db", dir.path().display());
    let store = SqlStore::connect(&url).await.expect("sqlite");
    store.migrate().await.expect("migrate");
    let s = store.into_arc();
    let refused = s.audit_append(entry("alice", "login", 1)).await;
    assert!(refused.is_err(), "no key, no entry: {refused:?}");
    assert!(s.audit_all(None).await.expect("audit").is_empty());
}
