//! Incident storage on both backends: an action's rows, timeline entries, outbox messages and
//! audit entries commit together or not at all; timeline entries are recorded once per dedupe key
//! and can be pinned but never rewritten or deleted; job leases go to one holder at a time;
//! concurrent writers neither fail (SQLITE_BUSY) nor break the audit chain.

use crate::common;
use app::model::{IncidentStatus, Severity};
use app::ssr::audit::{self, NewAuditEntry};
use app::ssr::store::{Effects, IncidentChange, IncidentRecord, NewOutbox, NewTimelineEntry, SqlStore, Store};
use std::sync::Arc;

const KEY: &[u8] = b"storage-test-key-0123456789";

fn incident() -> IncidentRecord {
    IncidentRecord {
        id: 0,
        title: "API 5xx".into(),
        environment: "taskflow-production".into(),
        severity: Severity::SEV1,
        status: IncidentStatus::Triggered,
        commander: "alice".into(),
        communications: String::new(),
        alarms: vec!["api-5xx".into()],
        services: vec!["c/api".into()],
        ticket: "INC-1".into(),
        declared_by: "alice".into(),
        started_ms: 1_000,
        acknowledged_ms: None,
        resolved_ms: None,
        closed_ms: None,
        postmortem: String::new(),
        updated_ms: 1_000,
    }
}

fn tl(incident_id: i64, at_ms: i64, text: &str, key: Option<&str>) -> NewTimelineEntry {
    NewTimelineEntry {
        incident_id,
        at_ms,
        kind: "note".into(),
        actor: "alice".into(),
        text: text.into(),
        detail: "{}".into(),
        dedupe_key: key.map(str::to_string),
    }
}

async fn together_or_not_at_all(s: Arc<dyn Store>, url: &str) {
    let id = s
        .incident_create(
            &incident(),
            Box::new(|id| Effects {
                entries: vec![tl(id, 1_000, "declared", None)],
                outbox: vec![NewOutbox {
                    idempotency_key: format!("incident-{id}-declared"),
                    environment: "taskflow-production".into(),
                    payload: "{}".into(),
                }],
                audit: vec![NewAuditEntry::new(
                    "alice",
                    "incident.declare",
                    &format!("incident:{id}"),
                    "ok",
                    serde_json::json!({}),
                )],
            }),
        )
        .await
        .expect("create");
    let got = s.incident_get(id).await.expect("get").expect("incident");
    assert_eq!(
        (got.alarms.clone(), got.services.clone()),
        (vec!["api-5xx".to_string()], vec!["c/api".to_string()])
    );
    assert_eq!(s.timeline(id).await.expect("timeline").len(), 1);
    assert_eq!(s.outbox_pending(10).await.expect("outbox").len(), 1);
    assert_eq!(s.audit_all(None).await.expect("audit").len(), 1);

    // A move from a status the incident is no longer in writes nothing at all.
    let stale = Effects {
        entries: vec![tl(id, 2_000, "stale move", None)],
        outbox: vec![],
        audit: vec![NewAuditEntry::new(
            "bob",
            "incident.status",
            "x",
            "ok",
            serde_json::json!({}),
        )],
    };
    let moved = s
        .incident_update(
            id,
            IncidentStatus::Acknowledged,
            vec![IncidentChange::Status(IncidentStatus::Resolved)],
            2_000,
            stale,
        )
        .await
        .expect("update");
    assert!(!moved);
    assert_eq!(s.timeline(id).await.expect("timeline").len(), 1);
    assert_eq!(s.audit_all(None).await.expect("audit").len(), 1);
    assert_eq!(
        s.incident_get(id).await.expect("get").expect("i").status.label(),
        "triggered"
    );
    // A column outside what an update may change cannot be named at all (`IncidentChange`); a
    // row holding a status the code does not know fails to read rather than being guessed.
    {
        use sqlx::Connection;
        sqlx::any::install_default_drivers();
        let mut raw = sqlx::AnyConnection::connect(url).await.expect("raw");
        sqlx::query("UPDATE incidents SET status = 'paused' WHERE id = $1")
            .bind(id)
            .execute(&mut raw)
            .await
            .expect("set an unknown status");
        assert!(s.incident_get(id).await.is_err(), "an unknown status fails to decode");
        assert!(
            s.incident_list(10).await.expect("list").iter().all(|i| i.id != id),
            "a list leaves the unreadable row out (and logs it) instead of failing whole"
        );
        sqlx::query("UPDATE incidents SET status = 'triggered' WHERE id = $1")
            .bind(id)
            .execute(&mut raw)
            .await
            .expect("restore");
    }

    // Dedupe keys: an observation is recorded once.
    let obs = || Effects {
        entries: vec![tl(id, 1_500, "alarm OK", Some("alarm:api-5xx:1500:OK"))],
        ..Effects::default()
    };
    assert_eq!(s.effects_apply(obs()).await.expect("first"), 1);
    assert_eq!(s.effects_apply(obs()).await.expect("again"), 0);
    let texts: Vec<String> = s.timeline(id).await.expect("t").into_iter().map(|e| e.text).collect();
    assert_eq!(texts, vec!["declared", "alarm OK"], "ordered by when it happened");

    // Pins change; nothing else does, and nothing is deleted.
    let entry_id = s.timeline(id).await.expect("t")[0].id;
    assert!(
        s.timeline_pin(id, entry_id, true, Effects::default())
            .await
            .expect("pin")
    );
    assert!(s.timeline(id).await.expect("t")[0].pinned);
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut raw = sqlx::AnyConnection::connect(url).await.expect("raw");
    assert!(
        sqlx::query("UPDATE timeline_entries SET text = 'nothing happened'")
            .execute(&mut raw)
            .await
            .is_err()
    );
    assert!(
        sqlx::query("DELETE FROM timeline_entries")
            .execute(&mut raw)
            .await
            .is_err()
    );
    assert_eq!(s.timeline(id).await.expect("t").len(), 2);

    // Leases: one holder at a time, taken over once lapsed.
    assert!(s.lease_acquire("alarm-poll", "a", 10_000, 3_000).await.expect("a"));
    assert!(
        !s.lease_acquire("alarm-poll", "b", 11_000, 3_000)
            .await
            .expect("b waits")
    );
    assert!(
        s.lease_acquire("alarm-poll", "a", 12_000, 3_000)
            .await
            .expect("a renews")
    );
    assert!(
        s.lease_acquire("alarm-poll", "b", 15_001, 3_000)
            .await
            .expect("b takes over")
    );
}

/// 8 writers at once, each appending notes with audit entries: none fails, the chain verifies.
async fn concurrent_writers(s: Arc<dyn Store>) {
    let id = s
        .incident_create(&incident(), Box::new(|_| Effects::default()))
        .await
        .expect("create");
    let mut tasks = Vec::new();
    for w in 0..8 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0..10 {
                let e = Effects {
                    entries: vec![tl(id, 1_000 + n, &format!("w{w} n{n}"), None)],
                    outbox: vec![],
                    audit: vec![NewAuditEntry::new(
                        &format!("w{w}"),
                        "incident.note",
                        "x",
                        "ok",
                        serde_json::json!({}),
                    )],
                };
                s.effects_apply(e).await?;
            }
            Ok::<(), app::ssr::store::StoreError>(())
        }));
    }
    for t in tasks {
        t.await.expect("join").expect("every write succeeds");
    }
    assert_eq!(s.timeline(id).await.expect("t").len(), 80);
    let all = s.audit_all(None).await.expect("audit");
    assert_eq!(all.len(), 80);
    assert!(audit::verify(KEY, &all).is_ok());
}

#[tokio::test]
async fn sqlite_incident_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}/t.db", dir.path().display());
    let store = SqlStore::connect(&url)
        .await
        .expect("sqlite")
        .with_audit_key(KEY.to_vec());
    store.migrate().await.expect("migrate");
    together_or_not_at_all(store.into_arc(), &url).await;
}

#[tokio::test]
async fn postgres_incident_writes() {
    let url = common::fresh_postgres().await;
    let store = SqlStore::connect(&url)
        .await
        .expect("postgres")
        .with_audit_key(KEY.to_vec());
    store.migrate().await.expect("migrate");
    together_or_not_at_all(store.into_arc(), &url).await;
}

#[tokio::test]
async fn sqlite_concurrent_writers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}/t.db", dir.path().display());
    let store = SqlStore::connect(&url)
        .await
        .expect("sqlite")
        .with_audit_key(KEY.to_vec());
    store.migrate().await.expect("migrate");
    concurrent_writers(store.into_arc()).await;
}

#[tokio::test]
async fn postgres_concurrent_writers() {
    let url = common::fresh_postgres().await;
    let store = SqlStore::connect(&url)
        .await
        .expect("postgres")
        .with_audit_key(KEY.to_vec());
    store.migrate().await.expect("migrate");
    concurrent_writers(store.into_arc()).await;
}

/// Concurrent plain audit appends share commits (group commit) and keep one unbroken chain.
async fn grouped_appends(s: Arc<dyn Store>) {
    let mut tasks = Vec::new();
    for w in 0..8 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for n in 0..50 {
                let e = NewAuditEntry::new(&format!("w{w}"), "append", "x", "ok", serde_json::json!({"n": n}));
                seqs.push(s.audit_append(e).await?.seq);
            }
            Ok::<_, app::ssr::store::StoreError>(seqs)
        }));
    }
    let mut all_seqs = Vec::new();
    for t in tasks {
        let seqs = t.await.expect("join").expect("every append succeeds");
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "one writer's entries stay in its order"
        );
        all_seqs.extend(seqs);
    }
    all_seqs.sort();
    assert_eq!(all_seqs, (1..=400).collect::<Vec<i64>>(), "no gaps, no duplicates");
    let all = s.audit_all(None).await.expect("audit");
    assert!(audit::verify(KEY, &all).is_ok());
}

#[tokio::test]
async fn sqlite_grouped_appends() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqlStore::connect(&format!("sqlite://{}/t.db", dir.path().display()))
        .await
        .expect("sqlite")
        .with_audit_key(KEY.to_vec());
    store.migrate().await.expect("migrate");
    grouped_appends(store.into_arc()).await;
}

#[tokio::test]
async fn postgres_grouped_appends() {
    let url = common::fresh_postgres().await;
    let store = SqlStore::connect(&url)
        .await
        .expect("postgres")
        .with_audit_key(KEY.to_vec());
    store.migrate().await.expect("migrate");
    grouped_appends(store.into_arc()).await;
}
