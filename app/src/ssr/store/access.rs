//! Break-glass access: requests and their state machine, approvals, grants. Every transition is
//! one guarded UPDATE (`WHERE status IN (…)`) in the same transaction as its audit entry, so two
//! people acting at once cannot both win, and an action without its audit entry does not happen.

use super::effects::{AccessChange, bind_patch, decode, decode_rows, in_list, set_clause, write_effects};
use super::{Effects, EffectsFor, SqlStore, StoreError};
use crate::model::{AccessStatus, Decision, ReviewStatus};
use async_trait::async_trait;
use sqlx::Row;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AccessRequestRecord {
    pub id: i64,
    pub environment: String,
    pub profile: String,
    pub requester: String,
    pub reason: String,
    pub ticket: String,
    pub incident_id: Option<i64>,
    pub duration_minutes: i64,
    pub emergency: bool,
    pub extends_id: Option<i64>,
    pub status: AccessStatus,
    pub created_ms: i64,
    pub pending_until_ms: i64,
    pub approved_ms: Option<i64>,
    pub window_end_ms: Option<i64>,
    pub ended_ms: Option<i64>,
    pub ended_by: String,
    pub review_status: ReviewStatus,
    pub reviewed_by: String,
    pub review_note: String,
    /// How the revocation stopped the credentials when not by the session's own deny.
    pub revocation: String,
    pub updated_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalRecord {
    pub request_id: i64,
    pub approver: String,
    pub decision: Decision,
    pub comment: String,
    pub at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRecord {
    pub request_id: i64,
    pub role_arn: String,
    pub session_name: String,
    pub access_key_id: String,
    pub issued_ms: i64,
    pub expires_ms: i64,
}

/// What one decision did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decided {
    /// The request was not pending (or its pending time was over): nothing written.
    NotPending,
    /// This approver had already decided: nothing written.
    AlreadyDecided,
    /// Recorded; more approvals are needed.
    Recorded {
        approvals: i64,
    },
    Approved,
    Denied,
}

pub type DecidedEffects = Box<dyn FnOnce(Decided) -> Effects + Send>;

const COLUMNS: &str = "id, environment, profile, requester, reason, ticket, incident_id, duration_minutes, emergency, \
     extends_id, status, created_ms, pending_until_ms, approved_ms, window_end_ms, ended_ms, ended_by, review_status, \
     reviewed_by, review_note, revocation, updated_ms";

fn from_row(r: &sqlx::any::AnyRow) -> Result<AccessRequestRecord, sqlx::Error> {
    Ok(AccessRequestRecord {
        id: r.try_get("id")?,
        environment: r.try_get("environment")?,
        profile: r.try_get("profile")?,
        requester: r.try_get("requester")?,
        reason: r.try_get("reason")?,
        ticket: r.try_get("ticket")?,
        incident_id: r.try_get("incident_id")?,
        duration_minutes: r.try_get("duration_minutes")?,
        emergency: r.try_get::<i64, _>("emergency")? != 0,
        extends_id: r.try_get("extends_id")?,
        status: decode(r, "status", |s: String| AccessStatus::parse(&s))?,
        created_ms: r.try_get("created_ms")?,
        pending_until_ms: r.try_get("pending_until_ms")?,
        approved_ms: r.try_get("approved_ms")?,
        window_end_ms: r.try_get("window_end_ms")?,
        ended_ms: r.try_get("ended_ms")?,
        ended_by: r.try_get("ended_by")?,
        review_status: decode(r, "review_status", |s: String| ReviewStatus::parse(&s))?,
        reviewed_by: r.try_get("reviewed_by")?,
        review_note: r.try_get("review_note")?,
        revocation: r.try_get("revocation")?,
        updated_ms: r.try_get("updated_ms")?,
    })
}

#[allow(clippy::too_many_arguments)]
#[async_trait]
pub trait AccessStore: Send + Sync {
    /// Creates a request (in `rec.status`); `effects` gets its id.
    async fn access_create(&self, rec: &AccessRequestRecord, effects: EffectsFor) -> Result<i64, StoreError>;
    async fn access_get(&self, id: i64) -> Result<Option<AccessRequestRecord>, StoreError>;
    /// Newest first.
    async fn access_list(&self, limit: i64) -> Result<Vec<AccessRequestRecord>, StoreError>;
    async fn access_in_status(&self, statuses: &[AccessStatus]) -> Result<Vec<AccessRequestRecord>, StoreError>;
    async fn access_approvals(&self, id: i64) -> Result<Vec<ApprovalRecord>, StoreError>;
    async fn access_grant(&self, id: i64) -> Result<Option<GrantRecord>, StoreError>;
    /// The grants of several requests in one query (pages listing many requests).
    async fn access_grants_for(&self, ids: &[i64]) -> Result<Vec<GrantRecord>, StoreError>;
    /// Records one approver's decision on a pending request; with `needed` approvals the request
    /// becomes approved and its window (`window_ms`) starts now.
    async fn access_decide(
        &self,
        id: i64,
        approver: &str,
        approve: bool,
        comment: &str,
        needed: i64,
        window_ms: i64,
        now_ms: i64,
        effects: DecidedEffects,
    ) -> Result<Decided, StoreError>;
    /// Moves a request from one of `from` to `to`, setting `patch`; false when it was elsewhere.
    async fn access_transition(
        &self,
        id: i64,
        from: &[AccessStatus],
        to: AccessStatus,
        patch: Vec<AccessChange>,
        now_ms: i64,
        effects: Effects,
    ) -> Result<bool, StoreError>;
    /// activating → active with its grant.
    async fn access_activated(&self, grant: &GrantRecord, now_ms: i64, effects: Effects) -> Result<bool, StoreError>;
    /// The review of an emergency grant, once: pending → done with who and why; false when it
    /// was not waiting (reviewed meanwhile by someone else, or no review needed).
    async fn access_reviewed(
        &self,
        id: i64,
        by: &str,
        note: &str,
        now_ms: i64,
        effects: Effects,
    ) -> Result<bool, StoreError>;
}

#[allow(clippy::too_many_arguments)]
#[async_trait]
impl AccessStore for SqlStore {
    async fn access_create(&self, rec: &AccessRequestRecord, effects: EffectsFor) -> Result<i64, StoreError> {
        let (_serial, mut tx) = self.write_tx().await?;
        let row = sqlx::query(
            "INSERT INTO access_requests (environment, profile, requester, reason, ticket, incident_id, duration_minutes, \
             emergency, extends_id, status, created_ms, pending_until_ms, approved_ms, window_end_ms, review_status, updated_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $11) RETURNING id",
        )
        .bind(&rec.environment)
        .bind(&rec.profile)
        .bind(&rec.requester)
        .bind(&rec.reason)
        .bind(&rec.ticket)
        .bind(rec.incident_id)
        .bind(rec.duration_minutes)
        .bind(i64::from(rec.emergency))
        .bind(rec.extends_id)
        .bind(rec.status.label())
        .bind(rec.created_ms)
        .bind(rec.pending_until_ms)
        .bind(rec.approved_ms)
        .bind(rec.window_end_ms)
        .bind(rec.review_status.label())
        .fetch_one(&mut *tx)
        .await?;
        let id: i64 = row.try_get("id")?;
        write_effects(&mut tx, &self.audit_key, effects(id), rec.created_ms).await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn access_get(&self, id: i64) -> Result<Option<AccessRequestRecord>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM access_requests WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(from_row).transpose()?)
    }

    async fn access_list(&self, limit: i64) -> Result<Vec<AccessRequestRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM access_requests ORDER BY id DESC LIMIT $1"
        ))
        .bind(limit.clamp(1, 2000))
        .fetch_all(&self.pool)
        .await?;
        Ok(decode_rows("access_requests", &rows, from_row))
    }

    async fn access_in_status(&self, statuses: &[AccessStatus]) -> Result<Vec<AccessRequestRecord>, StoreError> {
        let list = in_list(statuses.iter().map(|s| s.label()));
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM access_requests WHERE status IN ({list}) ORDER BY id"
        ))
        .fetch_all(&self.pool)
        .await?;
        Ok(decode_rows("access_requests", &rows, from_row))
    }

    async fn access_approvals(&self, id: i64) -> Result<Vec<ApprovalRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT request_id, approver, decision, comment, at_ms FROM access_approvals WHERE request_id = $1 ORDER BY at_ms",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ApprovalRecord {
                    request_id: r.try_get("request_id")?,
                    approver: r.try_get("approver")?,
                    decision: decode(r, "decision", |s: String| Decision::parse(&s))?,
                    comment: r.try_get("comment")?,
                    at_ms: r.try_get("at_ms")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::Db)
    }

    async fn access_grant(&self, id: i64) -> Result<Option<GrantRecord>, StoreError> {
        Ok(self.access_grants_for(&[id]).await?.pop())
    }

    async fn access_grants_for(&self, ids: &[i64]) -> Result<Vec<GrantRecord>, StoreError> {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        // Integers only, so the list is written into the statement.
        let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
        let rows = sqlx::query(&format!(
            "SELECT request_id, role_arn, session_name, access_key_id, issued_ms, expires_ms FROM access_grants \
             WHERE request_id IN ({list})"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(GrantRecord {
                    request_id: r.try_get("request_id")?,
                    role_arn: r.try_get("role_arn")?,
                    session_name: r.try_get("session_name")?,
                    access_key_id: r.try_get("access_key_id")?,
                    issued_ms: r.try_get("issued_ms")?,
                    expires_ms: r.try_get("expires_ms")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::Db)
    }

    async fn access_decide(
        &self,
        id: i64,
        approver: &str,
        approve: bool,
        comment: &str,
        needed: i64,
        window_ms: i64,
        now_ms: i64,
        effects: DecidedEffects,
    ) -> Result<Decided, StoreError> {
        let (_serial, mut tx) = self.write_tx().await?;
        let pending =
            sqlx::query("SELECT id FROM access_requests WHERE id = $1 AND status = $3 AND pending_until_ms > $2")
                .bind(id)
                .bind(now_ms)
                .bind(AccessStatus::Pending.label())
                .fetch_optional(&mut *tx)
                .await?;
        if pending.is_none() {
            return Ok(Decided::NotPending);
        }
        let inserted = sqlx::query(
            "INSERT INTO access_approvals (request_id, approver, decision, comment, at_ms) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (request_id, approver) DO NOTHING",
        )
        .bind(id)
        .bind(approver)
        .bind(if approve { Decision::Approve } else { Decision::Deny }.label())
        .bind(comment)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() != 1 {
            return Ok(Decided::AlreadyDecided);
        }
        let outcome = if !approve {
            sqlx::query(
                "UPDATE access_requests SET status = $4, ended_ms = $2, ended_by = $3, updated_ms = $2 \
                 WHERE id = $1 AND status = $5",
            )
            .bind(id)
            .bind(now_ms)
            .bind(approver)
            .bind(AccessStatus::Denied.label())
            .bind(AccessStatus::Pending.label())
            .execute(&mut *tx)
            .await?;
            Decided::Denied
        } else {
            let row = sqlx::query("SELECT COUNT(*) AS n FROM access_approvals WHERE request_id = $1 AND decision = $2")
                .bind(id)
                .bind(Decision::Approve.label())
                .fetch_one(&mut *tx)
                .await?;
            let approvals: i64 = row.try_get("n")?;
            if approvals >= needed {
                sqlx::query(
                    "UPDATE access_requests SET status = $4, approved_ms = $2, window_end_ms = $3, updated_ms = $2 \
                     WHERE id = $1 AND status = $5",
                )
                .bind(id)
                .bind(now_ms)
                .bind(now_ms + window_ms)
                .bind(AccessStatus::Approved.label())
                .bind(AccessStatus::Pending.label())
                .execute(&mut *tx)
                .await?;
                Decided::Approved
            } else {
                Decided::Recorded { approvals }
            }
        };
        write_effects(&mut tx, &self.audit_key, effects(outcome), now_ms).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    async fn access_transition(
        &self,
        id: i64,
        from: &[AccessStatus],
        to: AccessStatus,
        patch: Vec<AccessChange>,
        now_ms: i64,
        effects: Effects,
    ) -> Result<bool, StoreError> {
        let mut sets = "status = $2, updated_ms = $3".to_string();
        let extra = set_clause(&patch, 4);
        if !extra.is_empty() {
            sets.push_str(", ");
            sets.push_str(&extra);
        }
        // A transition no state machine allows is a programming error: refused, not written.
        if let Some(bad) = from.iter().find(|f| **f != to && !f.can_move_to(to)) {
            return Err(StoreError::Other(format!(
                "access request {id}: {} cannot move to {}",
                bad.label(),
                to.label()
            )));
        }
        let from_list = in_list(from.iter().map(|s| s.label()));
        let sql = format!("UPDATE access_requests SET {sets} WHERE id = $1 AND status IN ({from_list})");
        let (_serial, mut tx) = self.write_tx().await?;
        let q = bind_patch(sqlx::query(&sql).bind(id).bind(to.label()).bind(now_ms), patch);
        if q.execute(&mut *tx).await?.rows_affected() != 1 {
            return Ok(false);
        }
        write_effects(&mut tx, &self.audit_key, effects, now_ms).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn access_reviewed(
        &self,
        id: i64,
        by: &str,
        note: &str,
        now_ms: i64,
        effects: Effects,
    ) -> Result<bool, StoreError> {
        let (from, to) = (ReviewStatus::Pending, ReviewStatus::Done);
        if !from.can_move_to(to) {
            return Err(StoreError::Other(format!(
                "a review cannot go from {} to {}",
                from.label(),
                to.label()
            )));
        }
        let (_serial, mut tx) = self.write_tx().await?;
        let done = sqlx::query(
            "UPDATE access_requests SET review_status = $2, reviewed_by = $3, review_note = $4, updated_ms = $5 \
             WHERE id = $1 AND review_status = $6",
        )
        .bind(id)
        .bind(to.label())
        .bind(by)
        .bind(note)
        .bind(now_ms)
        .bind(from.label())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        write_effects(&mut tx, &self.audit_key, effects, now_ms).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn access_activated(&self, grant: &GrantRecord, now_ms: i64, effects: Effects) -> Result<bool, StoreError> {
        let (_serial, mut tx) = self.write_tx().await?;
        let done = sqlx::query("UPDATE access_requests SET status = $3, updated_ms = $2 WHERE id = $1 AND status = $4")
            .bind(grant.request_id)
            .bind(now_ms)
            .bind(AccessStatus::Active.label())
            .bind(AccessStatus::Activating.label())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO access_grants (request_id, role_arn, session_name, access_key_id, issued_ms, expires_ms) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(grant.request_id)
        .bind(&grant.role_arn)
        .bind(&grant.session_name)
        .bind(&grant.access_key_id)
        .bind(grant.issued_ms)
        .bind(grant.expires_ms)
        .execute(&mut *tx)
        .await?;
        write_effects(&mut tx, &self.audit_key, effects, now_ms).await?;
        tx.commit().await?;
        Ok(true)
    }
}
