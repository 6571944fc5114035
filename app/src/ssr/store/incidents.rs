//! Incidents, timelines, rollbacks, the notification outbox, job leases and alarm states.
//!
//! Every action writes its rows, its timeline entries, its outbox messages and its audit entries
//! in one transaction (`Effects`): if the audit entry cannot be written, nothing is.

use super::{SqlStore, StoreError};
use crate::ssr::audit::NewAuditEntry;
use async_trait::async_trait;
use sqlx::Row;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentRecord {
    pub id: i64,
    pub title: String,
    pub environment: String,
    pub severity: i64,
    pub status: String,
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
}

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
    pub status: String,
    pub progress: String,
    pub finished_ms: Option<i64>,
}

/// One column of an incident to set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Patch {
    Text(&'static str, String),
    Int(&'static str, Option<i64>),
}

/// `col = $n, …` for a patch, the placeholders numbered from `first`; a column outside `allowed`
/// is a programming error, refused.
pub(super) fn set_clause(table: &str, patch: &[Patch], allowed: &[&str], first: usize) -> Result<String, StoreError> {
    let mut sets = Vec::with_capacity(patch.len());
    for (i, p) in patch.iter().enumerate() {
        let (Patch::Text(col, _) | Patch::Int(col, _)) = p;
        if !allowed.contains(col) {
            return Err(StoreError::Other(format!("{table}.{col} cannot be updated")));
        }
        sets.push(format!("{col} = ${}", i + first));
    }
    Ok(sets.join(", "))
}

/// Binds a patch's values in order, after the statement's own parameters.
pub(super) fn bind_patch<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    patch: Vec<Patch>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for p in patch {
        q = match p {
            Patch::Text(_, v) => q.bind(v),
            Patch::Int(_, v) => q.bind(v),
        };
    }
    q
}

/// What an action writes beside its own rows, in the same transaction.
#[derive(Debug, Default)]
pub struct Effects {
    pub entries: Vec<NewTimelineEntry>,
    pub outbox: Vec<NewOutbox>,
    pub audit: Vec<NewAuditEntry>,
}

pub type EffectsFor = Box<dyn FnOnce(i64) -> Effects + Send>;

const INCIDENT_COLUMNS: &str = "id, title, environment, severity, status, commander, communications, alarms, services, \
     ticket, declared_by, started_ms, acknowledged_ms, resolved_ms, closed_ms, postmortem, updated_ms";
const ROLLBACK_COLUMNS: &str = "id, environment, cluster, service, from_task_definition, to_task_definition, incident_id, \
     reason, requested_by, requested_ms, confirmed_by, confirmed_ms, status, progress, finished_ms";
/// Columns an incident update may set (anything else is a programming error, refused).
const PATCHABLE: [&str; 9] = [
    "status",
    "severity",
    "commander",
    "communications",
    "acknowledged_ms",
    "resolved_ms",
    "closed_ms",
    "postmortem",
    "ticket",
];

#[async_trait]
pub trait IncidentStore: Send + Sync {
    /// Creates an incident; `effects` gets its id.
    async fn incident_create(&self, key: &[u8], rec: &IncidentRecord, effects: EffectsFor) -> Result<i64, StoreError>;
    /// Sets `patch` when the incident is still in `expect_status` (false: it moved meanwhile).
    async fn incident_update(
        &self,
        key: &[u8],
        id: i64,
        expect_status: &str,
        patch: Vec<Patch>,
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
    async fn effects_apply(&self, key: &[u8], effects: Effects) -> Result<u64, StoreError>;
    async fn timeline_pin(
        &self,
        key: &[u8],
        incident_id: i64,
        entry_id: i64,
        pinned: bool,
        effects: Effects,
    ) -> Result<bool, StoreError>;

    /// Last seen (state, since_ms) per alarm of an environment.
    async fn alarm_states(&self, env: &str) -> Result<Vec<(String, String, i64)>, StoreError>;
    async fn alarm_state_put(&self, env: &str, alarm: &str, state: &str, since_ms: i64) -> Result<(), StoreError>;

    async fn rollback_create(&self, key: &[u8], rec: &RollbackRecord, effects: EffectsFor) -> Result<i64, StoreError>;
    /// pending → rolling, by someone other than the requester. False when not pending or same person.
    async fn rollback_confirm(
        &self,
        key: &[u8],
        id: i64,
        by: &str,
        now_ms: i64,
        effects: Effects,
    ) -> Result<bool, StoreError>;
    /// Ends a pending or rolling rollback with `status`.
    async fn rollback_finish(
        &self,
        key: &[u8],
        id: i64,
        status: &str,
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

    async fn outbox_due(&self, now_ms: i64, limit: i64) -> Result<Vec<OutboxRow>, StoreError>;
    async fn outbox_delivered(&self, id: i64, now_ms: i64, note: &str) -> Result<(), StoreError>;
    async fn outbox_retry(&self, id: i64, next_attempt_ms: i64, error: &str) -> Result<(), StoreError>;
    /// Messages not delivered yet.
    async fn outbox_depth(&self) -> Result<i64, StoreError>;
    /// Every message with its delivery state (tests, the operator's view): (key, delivered, attempts).
    async fn outbox_all(&self) -> Result<Vec<(String, Option<i64>, i64)>, StoreError>;

    /// Takes or renews the lease of a job for `ttl_ms`; false when another holder has it.
    async fn lease_acquire(&self, name: &str, holder: &str, now_ms: i64, ttl_ms: i64) -> Result<bool, StoreError>;
}

fn strings(json: &str) -> Vec<String> {
    serde_json::from_str(json).unwrap_or_default()
}

fn incident_from_row(r: &sqlx::any::AnyRow) -> Result<IncidentRecord, sqlx::Error> {
    Ok(IncidentRecord {
        id: r.try_get("id")?,
        title: r.try_get("title")?,
        environment: r.try_get("environment")?,
        severity: r.try_get("severity")?,
        status: r.try_get("status")?,
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
        status: r.try_get("status")?,
        progress: r.try_get("progress")?,
        finished_ms: r.try_get("finished_ms")?,
    })
}

type Tx = sqlx::Transaction<'static, sqlx::Any>;

/// Writes the timeline entries, outbox messages and audit entries of an action; returns how many
/// timeline entries were new (a repeated dedupe key is skipped).
pub(super) async fn write_effects(tx: &mut Tx, key: &[u8], effects: Effects, now_ms: i64) -> Result<u64, StoreError> {
    let mut new = 0;
    for e in effects.entries {
        let done = sqlx::query(
            "INSERT INTO timeline_entries (incident_id, at_ms, recorded_ms, kind, actor, text, detail, dedupe_key) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (incident_id, dedupe_key) DO NOTHING",
        )
        .bind(e.incident_id)
        .bind(e.at_ms)
        .bind(now_ms)
        .bind(&e.kind)
        .bind(&e.actor)
        .bind(&e.text)
        .bind(&e.detail)
        .bind(e.dedupe_key.as_deref())
        .execute(&mut **tx)
        .await?;
        new += done.rows_affected();
    }
    for m in effects.outbox {
        sqlx::query(
            "INSERT INTO outbox (idempotency_key, environment, payload, created_ms, next_attempt_ms) \
             VALUES ($1, $2, $3, $4, $4) ON CONFLICT (idempotency_key) DO NOTHING",
        )
        .bind(&m.idempotency_key)
        .bind(&m.environment)
        .bind(&m.payload)
        .bind(now_ms)
        .execute(&mut **tx)
        .await?;
    }
    if !effects.audit.is_empty() {
        SqlStore::audit_in_many(tx, effects.audit.into_iter().map(|a| (key, a)).collect()).await?;
    }
    Ok(new)
}

fn now() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[async_trait]
impl IncidentStore for SqlStore {
    async fn incident_create(&self, key: &[u8], rec: &IncidentRecord, effects: EffectsFor) -> Result<i64, StoreError> {
        let (_serial, mut tx) = self.write_tx().await?;
        let row = sqlx::query(
            "INSERT INTO incidents (title, environment, severity, status, commander, communications, alarms, services, \
             ticket, declared_by, started_ms, acknowledged_ms, resolved_ms, closed_ms, postmortem, updated_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING id",
        )
        .bind(&rec.title)
        .bind(&rec.environment)
        .bind(rec.severity)
        .bind(&rec.status)
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
        write_effects(&mut tx, key, effects(id), now()).await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn incident_update(
        &self,
        key: &[u8],
        id: i64,
        expect_status: &str,
        patch: Vec<Patch>,
        now_ms: i64,
        effects: Effects,
    ) -> Result<bool, StoreError> {
        let sets = set_clause("incidents", &patch, &PATCHABLE, 4)?;
        let sql = if sets.is_empty() {
            "UPDATE incidents SET updated_ms = $3 WHERE id = $1 AND status = $2".to_string()
        } else {
            format!("UPDATE incidents SET {sets}, updated_ms = $3 WHERE id = $1 AND status = $2")
        };
        let (_serial, mut tx) = self.write_tx().await?;
        let q = bind_patch(sqlx::query(&sql).bind(id).bind(expect_status).bind(now_ms), patch);
        let done = q.execute(&mut *tx).await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        write_effects(&mut tx, key, effects, now_ms).await?;
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
        Ok(rows.iter().map(incident_from_row).collect::<Result<_, _>>()?)
    }

    async fn incidents_open(&self) -> Result<Vec<IncidentRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE status NOT IN ('resolved', 'closed') ORDER BY id"
        ))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(incident_from_row).collect::<Result<_, _>>()?)
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

    async fn effects_apply(&self, key: &[u8], effects: Effects) -> Result<u64, StoreError> {
        let (_serial, mut tx) = self.write_tx().await?;
        let n = write_effects(&mut tx, key, effects, now()).await?;
        tx.commit().await?;
        Ok(n)
    }

    async fn timeline_pin(
        &self,
        key: &[u8],
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
        write_effects(&mut tx, key, effects, now()).await?;
        tx.commit().await?;
        Ok(true)
    }

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

    async fn rollback_create(&self, key: &[u8], rec: &RollbackRecord, effects: EffectsFor) -> Result<i64, StoreError> {
        let (_serial, mut tx) = self.write_tx().await?;
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
        .bind(&rec.status)
        .bind(&rec.progress)
        .fetch_one(&mut *tx)
        .await?;
        let id: i64 = row.try_get("id")?;
        write_effects(&mut tx, key, effects(id), now()).await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn rollback_confirm(
        &self,
        key: &[u8],
        id: i64,
        by: &str,
        now_ms: i64,
        effects: Effects,
    ) -> Result<bool, StoreError> {
        let (_serial, mut tx) = self.write_tx().await?;
        let done = sqlx::query(
            "UPDATE rollbacks SET confirmed_by = $2, confirmed_ms = $3, status = 'rolling', \
             progress = 'UpdateService sent' WHERE id = $1 AND status = 'pending' AND requested_by <> $2",
        )
        .bind(id)
        .bind(by)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        write_effects(&mut tx, key, effects, now_ms).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn rollback_finish(
        &self,
        key: &[u8],
        id: i64,
        status: &str,
        progress: &str,
        now_ms: i64,
        effects: Effects,
    ) -> Result<bool, StoreError> {
        let (_serial, mut tx) = self.write_tx().await?;
        let done = sqlx::query(
            "UPDATE rollbacks SET status = $2, progress = $3, finished_ms = $4 \
             WHERE id = $1 AND status IN ('pending', 'rolling')",
        )
        .bind(id)
        .bind(status)
        .bind(progress)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        write_effects(&mut tx, key, effects, now_ms).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn rollback_progress(&self, id: i64, progress: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE rollbacks SET progress = $2 WHERE id = $1 AND status = 'rolling'")
            .bind(id)
            .bind(progress)
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
        Ok(rows.iter().map(rollback_from_row).collect::<Result<_, _>>()?)
    }

    async fn outbox_due(&self, now_ms: i64, limit: i64) -> Result<Vec<OutboxRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, idempotency_key, environment, payload, attempts, created_ms FROM outbox \
             WHERE delivered_ms IS NULL AND next_attempt_ms <= $1 ORDER BY id LIMIT $2",
        )
        .bind(now_ms)
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

    async fn lease_acquire(&self, name: &str, holder: &str, now_ms: i64, ttl_ms: i64) -> Result<bool, StoreError> {
        sqlx::query("INSERT INTO job_leases (name, holder, until_ms) VALUES ($1, '', 0) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .execute(&self.pool)
            .await?;
        let done = sqlx::query(
            "UPDATE job_leases SET holder = $2, until_ms = $3 WHERE name = $1 AND (holder = $2 OR until_ms < $4)",
        )
        .bind(name)
        .bind(holder)
        .bind(now_ms + ttl_ms)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
