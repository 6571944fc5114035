//! The audit log as the `/audit` page reads it (admin): the newest entries, filtered by actor and
//! action, with the chain's head. The chain itself is in `audit`.

use super::auth::Caller;
use super::state::AppState;
use super::store::AuditFilter;
use crate::error::AppError;
use crate::model::{AuditEntryView, AuditPage, Role};

fn clean(v: Option<String>, field: &str) -> Result<Option<String>, AppError> {
    match v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()) {
        Some(s) if s.len() > 200 => Err(AppError::Invalid(format!("{field}: at most 200 characters"))),
        other => Ok(other),
    }
}

/// The newest entries (`limit` 1-1000, default 200), optionally filtered by actor and action.
pub async fn list(
    state: &AppState,
    caller: &Caller,
    actor: Option<String>,
    action: Option<String>,
    limit: Option<i64>,
) -> Result<AuditPage, AppError> {
    caller.require(Role::Admin)?;
    let limit = limit.unwrap_or(200);
    if !(1..=1000).contains(&limit) {
        return Err(AppError::Invalid("limit: must be 1 to 1000".into()));
    }
    let filter = AuditFilter {
        actor: clean(actor, "actor")?,
        action: clean(action, "action")?,
        since_ms: None,
        limit,
    };
    let rows = state.store.audit_list(&filter).await?;
    let head = state
        .store
        .audit_list(&AuditFilter {
            limit: 1,
            ..Default::default()
        })
        .await?;
    Ok(AuditPage {
        head_seq: head.first().map(|h| h.seq).unwrap_or(0),
        head_mac: head.first().map(|h| h.mac.clone()).unwrap_or_default(),
        entries: rows
            .into_iter()
            .map(|r| AuditEntryView {
                seq: r.seq,
                ts_ms: r.entry.ts_ms,
                actor: r.entry.actor,
                action: r.entry.action,
                target: r.entry.target,
                outcome: r.entry.outcome,
                detail: r.entry.detail,
                request_id: r.entry.request_id,
            })
            .collect(),
    })
}
