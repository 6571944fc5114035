//! What an action writes beside its own rows, in the same transaction: timeline entries, outbox
//! messages and audit entries (`Effects`), plus the typed column changes of guarded updates (`IncidentChange`, `AccessChange`).
//! If the audit entry cannot be written, nothing is.

use super::{NewOutbox, NewTimelineEntry, SqlStore, StoreError};
use crate::model::{IncidentStatus, Severity};
use crate::ssr::audit::NewAuditEntry;

/// A column's new value.
pub enum Value {
    Text(String),
    Int(Option<i64>),
}

/// A typed change of one column of a row: which column, and the value. Each table has its own
/// enum, so a change can only name a column that may change.
pub trait Change {
    fn column(&self) -> &'static str;
    #[doc(hidden)]
    fn into_value(self) -> Value;
}

/// What an incident update may change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IncidentChange {
    Status(IncidentStatus),
    Severity(Severity),
    Commander(String),
    Communications(String),
    AcknowledgedMs(Option<i64>),
    ResolvedMs(Option<i64>),
    ClosedMs(Option<i64>),
    Postmortem(String),
}

impl Change for IncidentChange {
    fn column(&self) -> &'static str {
        match self {
            IncidentChange::Status(_) => "status",
            IncidentChange::Severity(_) => "severity",
            IncidentChange::Commander(_) => "commander",
            IncidentChange::Communications(_) => "communications",
            IncidentChange::AcknowledgedMs(_) => "acknowledged_ms",
            IncidentChange::ResolvedMs(_) => "resolved_ms",
            IncidentChange::ClosedMs(_) => "closed_ms",
            IncidentChange::Postmortem(_) => "postmortem",
        }
    }

    fn into_value(self) -> Value {
        match self {
            IncidentChange::Status(s) => Value::Text(s.label().into()),
            IncidentChange::Severity(s) => Value::Int(Some(i64::from(s.number()))),
            IncidentChange::Commander(v) | IncidentChange::Communications(v) | IncidentChange::Postmortem(v) => {
                Value::Text(v)
            }
            IncidentChange::AcknowledgedMs(v) | IncidentChange::ResolvedMs(v) | IncidentChange::ClosedMs(v) => {
                Value::Int(v)
            }
        }
    }
}

/// What an access request's transition may change beside its status (the review has its own
/// guarded update, `access_reviewed`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessChange {
    EndedMs(i64),
    EndedBy(String),
    /// How a revocation stopped the credentials (the role-wide fallback), shown on the page.
    Revocation(String),
}

impl Change for AccessChange {
    fn column(&self) -> &'static str {
        match self {
            AccessChange::EndedMs(_) => "ended_ms",
            AccessChange::EndedBy(_) => "ended_by",
            AccessChange::Revocation(_) => "revocation",
        }
    }

    fn into_value(self) -> Value {
        match self {
            AccessChange::EndedMs(t) => Value::Int(Some(t)),
            AccessChange::EndedBy(v) | AccessChange::Revocation(v) => Value::Text(v),
        }
    }
}

/// `col = $n, …` for a list of changes, the placeholders numbered from `first`.
pub(super) fn set_clause<C: Change>(patch: &[C], first: usize) -> String {
    patch
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{} = ${}", c.column(), i + first))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Binds the changes' values in order, after the statement's own parameters.
pub(super) fn bind_patch<'q, C: Change>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    patch: Vec<C>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for c in patch {
        q = match c.into_value() {
            Value::Text(v) => q.bind(v),
            Value::Int(v) => q.bind(v),
        };
    }
    q
}

/// `'a', 'b'` for an SQL `IN (…)` of state labels: constants of the code, never input.
pub(super) fn in_list<'a>(labels: impl IntoIterator<Item = &'a str>) -> String {
    labels
        .into_iter()
        .map(|l| format!("'{}'", l.replace('\'', "")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The rows of a list read that decode; a row that does not (a state word this version does not
/// know, written by hand or by a newer version) is left out of the list and logged as an error
/// naming its table and id, so that one bad row neither hides every other nor stops a job. A
/// single-row read of it still fails.
pub(super) fn decode_rows<T>(
    table: &str,
    rows: &[sqlx::any::AnyRow],
    from_row: impl Fn(&sqlx::any::AnyRow) -> Result<T, sqlx::Error>,
) -> Vec<T> {
    use sqlx::Row;
    rows.iter()
        .filter_map(|r| match from_row(r) {
            Ok(v) => Some(v),
            Err(e) => {
                let id: Option<i64> = r.try_get("id").ok();
                tracing::error!(table, id, error = %e, "a row that cannot be read is left out");
                None
            }
        })
        .collect()
}

/// A column decoded into a domain type; a value the type does not know fails the read (no
/// silent default): a row the code cannot understand is an error, not a guess.
pub(super) fn decode<'r, T, V>(
    row: &'r sqlx::any::AnyRow,
    column: &str,
    parse: impl FnOnce(V) -> Option<T>,
) -> Result<T, sqlx::Error>
where
    V: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any> + std::fmt::Debug + Clone,
{
    use sqlx::Row;
    let raw: V = row.try_get(column)?;
    parse(raw.clone()).ok_or_else(|| sqlx::Error::ColumnDecode {
        index: column.to_string(),
        source: format!("unknown value {raw:?}").into(),
    })
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

pub(super) use crate::ssr::clock::now;
