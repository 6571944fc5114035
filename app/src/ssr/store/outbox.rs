//! The notification outbox: messages (Slack) written in the same transaction as the action that
//! caused them, then delivered and retried by a background job.

use super::{SqlStore, StoreError};
use async_trait::async_trait;
use sqlx::Row;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOutbox {
    /// A retry of the same message (after a timeout, on another replica) never posts twice.
    pub idempotency_key: String,
    pub environment: String,
    pub payload: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    pub id: i64,
    pub idempotency_key: String,
    pub environment: String,
    pub payload: String,
    pub attempts: i64,
    pub created_ms: i64,
    /// Not tried again before this (after a failed attempt).
    pub next_attempt_ms: i64,
}

#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Messages not delivered yet, oldest first, due or not: the sender keeps each webhook's
    /// messages in order, so a message waits while an older one to its webhook is not due.
    async fn outbox_pending(&self, limit: i64) -> Result<Vec<OutboxRow>, StoreError>;
    async fn outbox_delivered(&self, id: i64, now_ms: i64, note: &str) -> Result<(), StoreError>;
    async fn outbox_retry(&self, id: i64, next_attempt_ms: i64, error: &str) -> Result<(), StoreError>;
    /// Messages not delivered yet.
    async fn outbox_depth(&self) -> Result<i64, StoreError>;
    /// Every message with its delivery state (tests, the operator's view): (key, delivered, attempts).
    async fn outbox_all(&self) -> Result<Vec<(String, Option<i64>, i64)>, StoreError>;
}

#[async_trait]
impl OutboxStore for SqlStore {
    async fn outbox_pending(&self, limit: i64) -> Result<Vec<OutboxRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, idempotency_key, environment, payload, attempts, created_ms, next_attempt_ms FROM outbox \
             WHERE delivered_ms IS NULL ORDER BY id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(OutboxRow {
                    id: r.try_get("id")?,
                    idempotency_key: r.try_get("idempotency_key")?,
                    environment: r.try_get("environment")?,
                    payload: r.try_get("payload")?,
                    attempts: r.try_get("attempts")?,
                    created_ms: r.try_get("created_ms")?,
                    next_attempt_ms: r.try_get("next_attempt_ms")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::Db)
    }

    async fn outbox_delivered(&self, id: i64, now_ms: i64, note: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE outbox SET delivered_ms = $2, attempts = attempts + 1, last_error = $3 WHERE id = $1")
            .bind(id)
            .bind(now_ms)
            .bind(note)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn outbox_retry(&self, id: i64, next_attempt_ms: i64, error: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE outbox SET attempts = attempts + 1, next_attempt_ms = $2, last_error = $3 WHERE id = $1")
            .bind(id)
            .bind(next_attempt_ms)
            .bind(error)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn outbox_depth(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM outbox WHERE delivered_ms IS NULL")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }

    async fn outbox_all(&self) -> Result<Vec<(String, Option<i64>, i64)>, StoreError> {
        let rows = sqlx::query("SELECT idempotency_key, delivered_ms, attempts FROM outbox ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("idempotency_key")?,
                    r.try_get("delivered_ms")?,
                    r.try_get("attempts")?,
                ))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::Db)
    }
}
