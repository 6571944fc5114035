//! The audit log: an append-only, HMAC-chained table. Appends from concurrent tasks are written
//! together (group commit, see `SqlStore::write_batch`); actions that carry audit entries write
//! them through `audit_in_many` inside their own transaction (`effects.rs`).

use super::{SqlStore, StoreError};
use crate::ssr::audit::{self, AuditRecord, NewAuditEntry};
use async_trait::async_trait;
use sqlx::Row;

/// Filters for listing audit entries, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub since_ms: Option<i64>,
    pub limit: i64,
}

#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends to the HMAC chain. Appends are serialised (in process, and across replicas by an
    /// advisory lock on Postgres); the entry is committed before this returns.
    async fn audit_append(&self, entry: NewAuditEntry) -> Result<AuditRecord, StoreError>;
    async fn audit_list(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>, StoreError>;
    /// Every entry in chain order, for verification and export.
    async fn audit_all(&self, since_ms: Option<i64>) -> Result<Vec<AuditRecord>, StoreError>;
    /// Hands the chain over from `old_key` to `new_key`: under the append lock, checks the whole
    /// log with the old key and appends an `audit.rekey` entry sealed with the new key and signed
    /// by the old one (`audit::rekey_entry`). Nothing is rewritten. After it, a console still on
    /// the old key writes no entry (and so takes no audited action) until it has the new key.
    async fn audit_rekey(&self, old_key: &[u8], new_key: &[u8], actor: &str) -> Result<AuditRecord, StoreError>;
}

const AUDIT_COLUMNS: &str = "seq, ts_ms, actor, action, target, outcome, detail, request_id, prev_mac, mac, key_id";

fn audit_from_row(row: &sqlx::any::AnyRow) -> Result<AuditRecord, sqlx::Error> {
    Ok(AuditRecord {
        seq: row.try_get("seq")?,
        entry: NewAuditEntry {
            ts_ms: row.try_get("ts_ms")?,
            actor: row.try_get("actor")?,
            action: row.try_get("action")?,
            target: row.try_get("target")?,
            outcome: row.try_get("outcome")?,
            detail: row.try_get("detail")?,
            request_id: row.try_get("request_id")?,
        },
        prev_mac: row.try_get("prev_mac")?,
        mac: row.try_get("mac")?,
        key_id: row.try_get("key_id")?,
    })
}

#[async_trait]
impl AuditStore for SqlStore {
    async fn audit_append(&self, entry: NewAuditEntry) -> Result<AuditRecord, StoreError> {
        let (done, mut result) = tokio::sync::oneshot::channel();
        self.queued
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((self.audit_key.clone(), entry, done));
        loop {
            // Either a leader has written this entry already, or this task becomes the leader
            // for everything queued: waiting for the lock just to learn the result would line the
            // writers up one behind another (a convoy) and defeat the group commit.
            tokio::select! {
                biased;
                r = &mut result => {
                    return match r {
                        Ok(Ok(r)) => Ok(r),
                        Ok(Err(e)) => Err(StoreError::Other(e)),
                        Err(_) => Err(StoreError::Other("the audit append was dropped".into())),
                    };
                }
                serial = self.append_lock.lock() => {
                    let batch = std::mem::take(&mut *self.queued.lock().unwrap_or_else(|p| p.into_inner()));
                    if !batch.is_empty() {
                        self.write_batch(batch).await;
                    }
                    drop(serial);
                }
            }
        }
    }

    async fn audit_list(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>, StoreError> {
        let limit = if filter.limit <= 0 { 200 } else { filter.limit.min(1000) };
        // Empty strings and zero mean "no filter" so the statement keeps one shape.
        let rows = sqlx::query(&format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_entries \
             WHERE ($1 = '' OR actor = $1) AND ($2 = '' OR action = $2) AND ts_ms >= $3 \
             ORDER BY seq DESC LIMIT $4"
        ))
        .bind(filter.actor.clone().unwrap_or_default())
        .bind(filter.action.clone().unwrap_or_default())
        .bind(filter.since_ms.unwrap_or(0))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(audit_from_row)
            .collect::<Result<_, _>>()
            .map_err(StoreError::Db)
    }

    async fn audit_all(&self, since_ms: Option<i64>) -> Result<Vec<AuditRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_entries WHERE ts_ms >= $1 ORDER BY seq ASC"
        ))
        .bind(since_ms.unwrap_or(0))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(audit_from_row)
            .collect::<Result<_, _>>()
            .map_err(StoreError::Db)
    }

    async fn audit_rekey(&self, old_key: &[u8], new_key: &[u8], actor: &str) -> Result<AuditRecord, StoreError> {
        let (_serial, mut tx) = self.write_tx().await?;
        let rows = sqlx::query(&format!("SELECT {AUDIT_COLUMNS} FROM audit_entries ORDER BY seq ASC"))
            .fetch_all(&mut *tx)
            .await?;
        let entries = rows.iter().map(audit_from_row).collect::<Result<Vec<_>, _>>()?;
        let entry =
            audit::rekey_entry(old_key, new_key, &entries, actor).map_err(|e| StoreError::Other(e.to_string()))?;
        let (seq, prev) = entries
            .last()
            .map(|r| (r.seq, r.mac.clone()))
            .unwrap_or_else(|| (0, audit::GENESIS_MAC.to_string()));
        let record = audit::seal(new_key, seq + 1, &prev, entry);
        SqlStore::insert_records(&mut tx, std::slice::from_ref(&record)).await?;
        tx.commit().await?;
        Ok(record)
    }
}

impl SqlStore {
    /// Appends several entries in order inside a transaction from `write_tx`: one read of the
    /// chain head and one multi-row INSERT.
    pub(crate) async fn audit_in_many(
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        entries: Vec<(&[u8], NewAuditEntry)>,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let head = sqlx::query("SELECT seq, mac, key_id FROM audit_entries ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut **tx)
            .await?;
        let (mut seq, mut mac, head_key): (i64, String, String) = match head {
            Some(r) => (r.try_get("seq")?, r.try_get("mac")?, r.try_get("key_id")?),
            None => (0, audit::GENESIS_MAC.to_string(), String::new()),
        };
        if entries.iter().any(|(key, _)| key.is_empty()) {
            return Err(StoreError::Other(
                "the store has no audit key, so it writes no audit entry (and no action that needs one)".into(),
            ));
        }
        // Fail closed on a key that is not the one in force: after `audit rekey` (or with a
        // replica configured with another key) such an entry would not verify.
        if let Some((key, _)) = entries
            .iter()
            .find(|(key, _)| !head_key.is_empty() && audit::key_id(key) != head_key)
        {
            return Err(StoreError::Other(format!(
                "the audit log's key in force has id {head_key} but this console's key has id {}: \
                 the audit key was rotated (`ops-console audit rekey`) or differs between replicas; \
                 start the console with the key in force",
                audit::key_id(key)
            )));
        }
        let mut records = Vec::with_capacity(entries.len());
        for (key, e) in entries {
            seq += 1;
            let r = audit::seal(key, seq, &mac, e);
            mac = r.mac.clone();
            records.push(r);
        }
        SqlStore::insert_records(tx, &records).await?;
        Ok(records)
    }

    /// One multi-row INSERT per 80 records.
    async fn insert_records(
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        records: &[AuditRecord],
    ) -> Result<(), StoreError> {
        const COLUMNS: usize = 11;
        // At most 80 rows (880 parameters) per statement, well inside both backends' limits.
        for chunk in records.chunks(80) {
            let values: Vec<String> = (0..chunk.len())
                .map(|i| {
                    let b = i * COLUMNS;
                    let slots: Vec<String> = (1..=COLUMNS).map(|c| format!("${}", b + c)).collect();
                    format!("({})", slots.join(", "))
                })
                .collect();
            let sql = format!(
                "INSERT INTO audit_entries ({AUDIT_COLUMNS}) VALUES {}",
                values.join(", ")
            );
            let mut q = sqlx::query(&sql);
            for r in chunk {
                q = q
                    .bind(r.seq)
                    .bind(r.entry.ts_ms)
                    .bind(&r.entry.actor)
                    .bind(&r.entry.action)
                    .bind(&r.entry.target)
                    .bind(&r.entry.outcome)
                    .bind(&r.entry.detail)
                    .bind(&r.entry.request_id)
                    .bind(&r.prev_mac)
                    .bind(&r.mac)
                    .bind(&r.key_id);
            }
            q.execute(&mut **tx).await?;
        }
        Ok(())
    }
}
