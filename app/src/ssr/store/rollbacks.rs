//! Rollbacks of ECS services: requested by one person, confirmed by another, then followed to
//! the end. Each step is a guarded UPDATE written with its effects in one transaction.

use super::effects::{decode, decode_rows, in_list, now, write_effects};
use super::{Effects, EffectsFor, SqlStore, StoreError};
use crate::model::RollbackStatus;
use async_trait::async_trait;
use sqlx::Row;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollbackRecord {
    pub id: i64,
    pub environment: String,
    pub cluster: String,
    pub service: String,
    pub from_task_definition: String,
    pub to_task_definition: String,
    pub incident_id: Option<i64>,
    pub reason: String,
    pub requested_by: String,
    pub requested_ms: i64,
    pub confirmed_by: Option<String>,
    pub confirmed_ms: Option<i64>,
    pub status: RollbackStatus,
    pub progress: String,
    pub finished_ms: Option<i64>,
}

/// The progress of a confirmed rollback until ECS has answered its UpdateService.
pub const UPDATE_BEING_SENT: &str = "UpdateService being sent";
/// The progress of a rolling rollback once ECS has accepted its UpdateService.
pub const UPDATE_SENT: &str = "UpdateService sent";

const ROLLBACK_COLUMNS: &str = "id, environment, cluster, service, from_task_definition, to_task_definition, incident_id, \
     reason, requested_by, requested_ms, confirmed_by, confirmed_ms, status, progress, finished_ms";

#[async_trait]
pub trait RollbackStore: Send + Sync {
    /// Creates a rollback unless one of the same service is still open (pending or rolling):
    /// None then. Checked in the write transaction, so two requests at once make one rollback.
    async fn rollback_create(&self, rec: &RollbackRecord, effects: EffectsFor) -> Result<Option<i64>, StoreError>;
    /// pending → rolling, by someone other than the requester. False when not pending or same person.
    /// Marks a pending rollback rolling with the progress [`UPDATE_BEING_SENT`]: the rollback
    /// job leaves it alone until the confirmer records [`UPDATE_SENT`] (or its timeout passes).
    async fn rollback_confirm(&self, id: i64, by: &str, now_ms: i64, effects: Effects) -> Result<bool, StoreError>;
    /// Ends a pending or rolling rollback with `status`.
    async fn rollback_finish(
        &self,
        id: i64,
        status: RollbackStatus,
        progress: &str,
        now_ms: i64,
        effects: Effects,
    ) -> Result<bool, StoreError>;
    async fn rollback_progress(&self, id: i64, progress: &str) -> Result<(), StoreError>;
    async fn rollback_get(&self, id: i64) -> Result<Option<RollbackRecord>, StoreError>;
    /// Newest first; empty filters match all.
    async fn rollback_list(
        &self,
        env: &str,
        service: &str,
        incident_id: Option<i64>,
    ) -> Result<Vec<RollbackRecord>, StoreError>;
}

fn rollback_from_row(r: &sqlx::any::AnyRow) -> Result<RollbackRecord, sqlx::Error> {
    Ok(RollbackRecord {
        id: r.try_get("id")?,
        environment: r.try_get("environment")?,
        cluster: r.try_get("cluster")?,
        service: r.try_get("service")?,
        from_task_definition: r.try_get("from_task_definition")?,
        to_task_definition: r.try_get("to_task_definition")?,
        incident_id: r.try_get("incident_id")?,
        reason: r.try_get("reason")?,
        requested_by: r.try_get("requested_by")?,
        requested_ms: r.try_get("requested_ms")?,
        confirmed_by: r.try_get("confirmed_by")?,
        confirmed_ms: r.try_get("confirmed_ms")?,
        status: decode(r, "status", |s: String| RollbackStatus::parse(&s))?,
        progress: r.try_get("progress")?,
        finished_ms: r.try_get("finished_ms")?,
    })
}

#[async_trait]
impl RollbackStore for SqlStore {
    async fn rollback_create(&self, rec: &RollbackRecord, effects: EffectsFor) -> Result<Option<i64>, StoreError> {
        let (_serial, mut tx) = self.write_tx().await?;
        let open = sqlx::query(&format!(
            "SELECT COUNT(*) AS n FROM rollbacks WHERE environment = $1 AND cluster = $2 AND service = $3 \
             AND status IN ({})",
            in_list(
                RollbackStatus::ALL
                    .into_iter()
                    .filter(|s| s.is_open())
                    .map(RollbackStatus::label)
            )
        ))
        .bind(&rec.environment)
        .bind(&rec.cluster)
        .bind(&rec.service)
        .fetch_one(&mut *tx)
        .await?;
        if open.try_get::<i64, _>("n")? > 0 {
            return Ok(None);
        }
        let row = sqlx::query(
            "INSERT INTO rollbacks (environment, cluster, service, from_task_definition, to_task_definition, \
             incident_id, reason, requested_by, requested_ms, status, progress) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
        )
        .bind(&rec.environment)
        .bind(&rec.cluster)
        .bind(&rec.service)
        .bind(&rec.from_task_definition)
        .bind(&rec.to_task_definition)
        .bind(rec.incident_id)
        .bind(&rec.reason)
        .bind(&rec.requested_by)
        .bind(rec.requested_ms)
        .bind(rec.status.label())
        .bind(&rec.progress)
        .fetch_one(&mut *tx)
        .await?;
        let id: i64 = row.try_get("id")?;
        write_effects(&mut tx, &self.audit_key, effects(id), now()).await?;
        tx.commit().await?;
        Ok(Some(id))
    }

    async fn rollback_confirm(&self, id: i64, by: &str, now_ms: i64, effects: Effects) -> Result<bool, StoreError> {
        let (_serial, mut tx) = self.write_tx().await?;
        let done = sqlx::query(
            "UPDATE rollbacks SET confirmed_by = $2, confirmed_ms = $3, status = $4, \
             progress = $6 WHERE id = $1 AND status = $5 AND requested_by <> $2",
        )
        .bind(id)
        .bind(by)
        .bind(now_ms)
        .bind(RollbackStatus::Rolling.label())
        .bind(RollbackStatus::Pending.label())
        .bind(UPDATE_BEING_SENT)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        write_effects(&mut tx, &self.audit_key, effects, now_ms).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn rollback_finish(
        &self,
        id: i64,
        status: RollbackStatus,
        progress: &str,
        now_ms: i64,
        effects: Effects,
    ) -> Result<bool, StoreError> {
        // The states `status` can be reached from; none means it is not an end (a caller's bug).
        let from: Vec<&str> = RollbackStatus::ALL
            .into_iter()
            .filter(|s| s.can_move_to(status))
            .map(RollbackStatus::label)
            .collect();
        if from.is_empty() {
            return Err(StoreError::Other(format!(
                "a rollback does not end as {}",
                status.label()
            )));
        }
        let (_serial, mut tx) = self.write_tx().await?;
        let done = sqlx::query(&format!(
            "UPDATE rollbacks SET status = $2, progress = $3, finished_ms = $4 WHERE id = $1 AND status IN ({})",
            in_list(from)
        ))
        .bind(id)
        .bind(status.label())
        .bind(progress)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        write_effects(&mut tx, &self.audit_key, effects, now_ms).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn rollback_progress(&self, id: i64, progress: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE rollbacks SET progress = $2 WHERE id = $1 AND status = $3")
            .bind(id)
            .bind(progress)
            .bind(RollbackStatus::Rolling.label())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn rollback_get(&self, id: i64) -> Result<Option<RollbackRecord>, StoreError> {
        let row = sqlx::query(&format!("SELECT {ROLLBACK_COLUMNS} FROM rollbacks WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(rollback_from_row).transpose()?)
    }

    async fn rollback_list(
        &self,
        env: &str,
        service: &str,
        incident_id: Option<i64>,
    ) -> Result<Vec<RollbackRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {ROLLBACK_COLUMNS} FROM rollbacks WHERE ($1 = '' OR environment = $1) \
             AND ($2 = '' OR service = $2) AND ($3 = 0 OR incident_id = $3) ORDER BY id DESC LIMIT 200"
        ))
        .bind(env)
        .bind(service)
        .bind(incident_id.unwrap_or(0))
        .fetch_all(&self.pool)
        .await?;
        Ok(decode_rows("rollbacks", &rows, rollback_from_row))
    }
}
