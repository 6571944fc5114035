//! What an action writes beside its own rows, in the same transaction: timeline entries, outbox
//! messages and audit entries (`Effects`), plus the column patches of guarded updates (`Patch`).
//! If the audit entry cannot be written, nothing is.

use super::{NewOutbox, NewTimelineEntry, SqlStore, StoreError};
use crate::ssr::audit::NewAuditEntry;

/// One column of a row (an incident, an access request) to set.
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

pub(super) fn now() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
