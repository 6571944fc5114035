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
}

const AUDIT_COLUMNS: &str = "seq, ts_ms, actor, action, target, outcome, detail, request_id, prev_mac, mac";

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
}

impl SqlStore {
    /// Appends several entries in order inside a transaction from `write_tx`: one read of the
    /// chain head and one multi-row INSERT.
    pub(crate) async fn audit_in_many(
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        entries: Vec<(&[u8], NewAuditEntry)>,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let head = sqlx::query("SELECT seq, mac FROM audit_entries ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut **tx)
            .await?;
        let (mut seq, mut mac): (i64, String) = match head {
            Some(r) => (r.try_get("seq")?, r.try_get("mac")?),
            None => (0, audit::GENESIS_MAC.to_string()),
        };
        if entries.iter().any(|(key, _)| key.is_empty()) {
            return Err(StoreError::Other(
                "the store has no audit key, so it writes no audit entry (and no action that needs one)".into(),
            ));
        }
        let mut records = Vec::with_capacity(entries.len());
        for (key, e) in entries {
            seq += 1;
            let r = audit::seal(key, seq, &mac, e);
            mac = r.mac.clone();
            records.push(r);
        }
        // At most 90 rows (900 parameters) per statement, well inside both backends' limits.
        for chunk in records.chunks(90) {
            let values: Vec<String> = (0..chunk.len())
                .map(|i| {
                    let b = i * 10;
                    format!(
                        "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                        b + 1,
                        b + 2,
                        b + 3,
                        b + 4,
                        b + 5,
                        b + 6,
                        b + 7,
                        b + 8,
                        b + 9,
                        b + 10
                    )
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
                    .bind(&r.mac);
            }
            q.execute(&mut **tx).await?;
        }
        Ok(records)
    }
}
