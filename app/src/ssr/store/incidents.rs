//! Incidents and their timelines. Every change writes its rows and its effects (timeline
//! entries, outbox messages, audit entries) in one transaction: see `effects.rs`.

use super::effects::{IncidentChange, bind_patch, decode, decode_rows, in_list, now, set_clause, write_effects};
use super::{Effects, EffectsFor, SqlStore, StoreError};
use crate::model::{IncidentStatus, Severity};
use async_trait::async_trait;
use sqlx::Row;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentRecord {
    pub id: i64,
    pub title: String,
    pub environment: String,
    pub severity: Severity,
    pub status: IncidentStatus,
    pub commander: String,
    pub communications: String,
    pub alarms: Vec<String>,
    pub services: Vec<String>,
    pub ticket: String,
    pub declared_by: String,
    pub started_ms: i64,
    pub acknowledged_ms: Option<i64>,
    pub resolved_ms: Option<i64>,
    pub closed_ms: Option<i64>,
    pub postmortem: String,
    pub updated_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTimelineEntry {
    pub incident_id: i64,
    pub at_ms: i64,
    pub kind: String,
    pub actor: String,
    pub text: String,
    pub detail: String,
    /// Entries recorded by jobs carry a key, so the same observation is recorded once (also
    /// across replicas).
    pub dedupe_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineRecord {
    pub id: i64,
    pub incident_id: i64,
    pub at_ms: i64,
    pub recorded_ms: i64,
    pub kind: String,
    pub actor: String,
    pub text: String,
    pub detail: String,
    pub pinned: bool,
}

const INCIDENT_COLUMNS: &str = "id, title, environment, severity, status, commander, communications, alarms, services, \
     ticket, declared_by, started_ms, acknowledged_ms, resolved_ms, closed_ms, postmortem, updated_ms";

#[async_trait]
pub trait IncidentStore: Send + Sync {
    /// Creates an incident; `effects` gets its id.
    async fn incident_create(&self, rec: &IncidentRecord, effects: EffectsFor) -> Result<i64, StoreError>;
    /// Sets `patch` when the incident is still in `expect_status` (false: it moved meanwhile).
    async fn incident_update(
        &self,
        id: i64,
        expect_status: IncidentStatus,
        patch: Vec<IncidentChange>,
        now_ms: i64,
        effects: Effects,
    ) -> Result<bool, StoreError>;
    async fn incident_get(&self, id: i64) -> Result<Option<IncidentRecord>, StoreError>;
    /// Newest first.
    async fn incident_list(&self, limit: i64) -> Result<Vec<IncidentRecord>, StoreError>;
    async fn incidents_open(&self) -> Result<Vec<IncidentRecord>, StoreError>;
    /// Oldest first by the time things happened.
    async fn timeline(&self, incident_id: i64) -> Result<Vec<TimelineRecord>, StoreError>;
    /// Writes effects alone (notes, observations). Returns how many timeline entries were new.
    async fn effects_apply(&self, effects: Effects) -> Result<u64, StoreError>;
    async fn timeline_pin(
        &self,
        incident_id: i64,
        entry_id: i64,
        pinned: bool,
        effects: Effects,
    ) -> Result<bool, StoreError>;
}

fn strings(json: &str) -> Vec<String> {
    serde_json::from_str(json).unwrap_or_default()
}

fn incident_from_row(r: &sqlx::any::AnyRow) -> Result<IncidentRecord, sqlx::Error> {
    Ok(IncidentRecord {
        id: r.try_get("id")?,
        title: r.try_get("title")?,
        environment: r.try_get("environment")?,
        severity: decode(r, "severity", |n: i64| u8::try_from(n).ok().and_then(Severity::new))?,
        status: decode(r, "status", |s: String| IncidentStatus::parse(&s))?,
        commander: r.try_get("commander")?,
        communications: r.try_get("communications")?,
        alarms: strings(&r.try_get::<String, _>("alarms")?),
        services: strings(&r.try_get::<String, _>("services")?),
        ticket: r.try_get("ticket")?,
        declared_by: r.try_get("declared_by")?,
        started_ms: r.try_get("started_ms")?,
        acknowledged_ms: r.try_get("acknowledged_ms")?,
        resolved_ms: r.try_get("resolved_ms")?,
        closed_ms: r.try_get("closed_ms")?,
        postmortem: r.try_get("postmortem")?,
        updated_ms: r.try_get("updated_ms")?,
    })
}

#[async_trait]
impl IncidentStore for SqlStore {
    async fn incident_create(&self, rec: &IncidentRecord, effects: EffectsFor) -> Result<i64, StoreError> {
        let (_serial, mut tx) = self.write_tx().await?;
        let row = sqlx::query(
            "INSERT INTO incidents (title, environment, severity, status, commander, communications, alarms, services, \
             ticket, declared_by, started_ms, acknowledged_ms, resolved_ms, closed_ms, postmortem, updated_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING id",
        )
        .bind(&rec.title)
        .bind(&rec.environment)
        .bind(i64::from(rec.severity.number()))
        .bind(rec.status.label())
        .bind(&rec.commander)
        .bind(&rec.communications)
        .bind(serde_json::to_string(&rec.alarms).unwrap_or_else(|_| "[]".into()))
        .bind(serde_json::to_string(&rec.services).unwrap_or_else(|_| "[]".into()))
        .bind(&rec.ticket)
        .bind(&rec.declared_by)
        .bind(rec.started_ms)
        .bind(rec.acknowledged_ms)
        .bind(rec.resolved_ms)
        .bind(rec.closed_ms)
        .bind(&rec.postmortem)
        .bind(rec.updated_ms)
        .fetch_one(&mut *tx)
        .await?;
        let id: i64 = row.try_get("id")?;
        write_effects(&mut tx, &self.audit_key, effects(id), now()).await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn incident_update(
        &self,
        id: i64,
        expect_status: IncidentStatus,
        patch: Vec<IncidentChange>,
        now_ms: i64,
        effects: Effects,
    ) -> Result<bool, StoreError> {
        let sets = set_clause(&patch, 4);
        let sql = if sets.is_empty() {
            "UPDATE incidents SET updated_ms = $3 WHERE id = $1 AND status = $2".to_string()
        } else {
            format!("UPDATE incidents SET {sets}, updated_ms = $3 WHERE id = $1 AND status = $2")
        };
        let (_serial, mut tx) = self.write_tx().await?;
        let q = bind_patch(
            sqlx::query(&sql).bind(id).bind(expect_status.label()).bind(now_ms),
            patch,
        );
        let done = q.execute(&mut *tx).await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        write_effects(&mut tx, &self.audit_key, effects, now_ms).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn incident_get(&self, id: i64) -> Result<Option<IncidentRecord>, StoreError> {
        let row = sqlx::query(&format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(incident_from_row).transpose()?)
    }

    async fn incident_list(&self, limit: i64) -> Result<Vec<IncidentRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents ORDER BY id DESC LIMIT $1"
        ))
        .bind(limit.clamp(1, 1000))
        .fetch_all(&self.pool)
        .await?;
        Ok(decode_rows("incidents", &rows, incident_from_row))
    }

    async fn incidents_open(&self) -> Result<Vec<IncidentRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE status NOT IN ({}) ORDER BY id",
            in_list(
                IncidentStatus::ALL
                    .into_iter()
                    .filter(|s| !s.is_open())
                    .map(IncidentStatus::label)
            )
        ))
        .fetch_all(&self.pool)
        .await?;
        Ok(decode_rows("incidents", &rows, incident_from_row))
    }

    async fn timeline(&self, incident_id: i64) -> Result<Vec<TimelineRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, incident_id, at_ms, recorded_ms, kind, actor, text, detail, pinned FROM timeline_entries \
             WHERE incident_id = $1 ORDER BY at_ms, id",
        )
        .bind(incident_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(TimelineRecord {
                    id: r.try_get("id")?,
                    incident_id: r.try_get("incident_id")?,
                    at_ms: r.try_get("at_ms")?,
                    recorded_ms: r.try_get("recorded_ms")?,
                    kind: r.try_get("kind")?,
                    actor: r.try_get("actor")?,
                    text: r.try_get("text")?,
                    detail: r.try_get("detail")?,
                    pinned: r.try_get::<i64, _>("pinned")? != 0,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::Db)
    }

    async fn effects_apply(&self, effects: Effects) -> Result<u64, StoreError> {
        let (_serial, mut tx) = self.write_tx().await?;
        let n = write_effects(&mut tx, &self.audit_key, effects, now()).await?;
        tx.commit().await?;
        Ok(n)
    }

    async fn timeline_pin(
        &self,
        incident_id: i64,
        entry_id: i64,
        pinned: bool,
        effects: Effects,
    ) -> Result<bool, StoreError> {
        let (_serial, mut tx) = self.write_tx().await?;
        let done = sqlx::query("UPDATE timeline_entries SET pinned = $3 WHERE id = $1 AND incident_id = $2")
            .bind(entry_id)
            .bind(incident_id)
            .bind(i64::from(pinned))
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        write_effects(&mut tx, &self.audit_key, effects, now()).await?;
        tx.commit().await?;
        Ok(true)
    }
}
