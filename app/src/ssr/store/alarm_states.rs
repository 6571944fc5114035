//! The last seen state of each alarm per environment, so the alarm poller records only changes.

use super::{SqlStore, StoreError};
use async_trait::async_trait;
use sqlx::Row;

#[async_trait]
pub trait AlarmStateStore: Send + Sync {
    /// Last seen (state, since_ms) per alarm of an environment.
    async fn alarm_states(&self, env: &str) -> Result<Vec<(String, String, i64)>, StoreError>;
    async fn alarm_state_put(&self, env: &str, alarm: &str, state: &str, since_ms: i64) -> Result<(), StoreError>;
}

#[async_trait]
impl AlarmStateStore for SqlStore {
    async fn alarm_states(&self, env: &str) -> Result<Vec<(String, String, i64)>, StoreError> {
        let rows = sqlx::query("SELECT alarm, state, since_ms FROM alarm_states WHERE environment = $1")
            .bind(env)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("alarm")?, r.try_get("state")?, r.try_get("since_ms")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::Db)
    }

    async fn alarm_state_put(&self, env: &str, alarm: &str, state: &str, since_ms: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO alarm_states (environment, alarm, state, since_ms) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (environment, alarm) DO UPDATE SET state = excluded.state, since_ms = excluded.since_ms",
        )
        .bind(env)
        .bind(alarm)
        .bind(state)
        .bind(since_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
