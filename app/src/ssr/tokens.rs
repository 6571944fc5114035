//! API tokens for automation (admin): issue (shown once, with a fresh MFA login), list, revoke.
//! The token format is in `kernel::secrets`; a bearer token becomes a caller in `auth`.

use super::auth::Caller;
use super::kernel::clock::now;
use super::kernel::effects::{audit, audit_outcome};
use super::kernel::secrets::{generate, hash};
use super::state::AppState;
use super::store::{RevocationAudit, TokenRecord, TokenRevocation};
use crate::error::AppError;
use crate::model::{Role, TokenCreated, TokenInfo};

fn info(t: TokenRecord) -> Option<TokenInfo> {
    Some(TokenInfo {
        role: Role::parse(&t.role)?,
        id: t.id,
        name: t.name,
        created_by: t.created_by,
        created_ms: t.created_ms,
        expires_ms: t.expires_ms,
        revoked_ms: t.revoked_ms,
        last_used_ms: t.last_used_ms,
    })
}

/// Issues a token scoped to one role for `days` (1-90). Needs the admin role and, in oidc mode,
/// an MFA login within `auth.step_up_minutes`.
pub async fn create(
    state: &AppState,
    caller: &Caller,
    name: &str,
    role: &str,
    days: u32,
) -> Result<TokenCreated, AppError> {
    caller.require(Role::Admin)?;
    caller.require_fresh_mfa(state.config.auth.mode, "/audit")?;
    let name = name.trim().to_string();
    if name.is_empty() || name.len() > 100 || name.chars().any(char::is_control) {
        return Err(AppError::Invalid("name: 1 to 100 printable characters".into()));
    }
    let role = Role::parse(role)
        .ok_or_else(|| AppError::Invalid(format!("role: \"{role}\" is not viewer, responder, approver or admin")))?;
    if !(1..=90).contains(&days) {
        return Err(AppError::Invalid("days: 1 to 90".into()));
    }
    let (id, token) = generate();
    let now = now();
    let record = TokenRecord {
        id: id.clone(),
        name: name.clone(),
        role: role.label().to_string(),
        token_hash: hash(&token),
        created_by: caller.subject.clone(),
        created_ms: now,
        expires_ms: now + i64::from(days) * 86_400_000,
        revoked_ms: None,
        last_used_ms: None,
    };
    state.store.token_create(&record).await?;
    let entry = audit(
        &caller.subject,
        "token.create",
        &format!("token:{id}"),
        serde_json::json!({"name": name, "role": role.label(), "days": days}),
    );
    if let Err(e) = state.audit(entry).await {
        // Fail closed: a token nobody can account for must not work.
        let _ = state.store.token_revoke(&id, now).await;
        return Err(e);
    }
    let info = info(record).ok_or_else(|| AppError::Internal("token role".into()))?;
    Ok(TokenCreated { info, token })
}

/// Every token, newest first, without secrets (admin).
pub async fn list(state: &AppState, caller: &Caller) -> Result<Vec<TokenInfo>, AppError> {
    caller.require(Role::Admin)?;
    Ok(state.store.token_list().await?.into_iter().filter_map(info).collect())
}

/// Revokes a token at once (admin). The update and its audit entry are one transaction, and the
/// entry says what the update did: `token.revoke` "ok" with the time, or "failed" with why (no
/// such token: 404; revoked before: 409, with when). If the entry cannot be written, the token
/// stays as it was and the caller gets 503.
pub async fn revoke(state: &AppState, caller: &Caller, id: &str) -> Result<(), AppError> {
    caller.require(Role::Admin)?;
    if id.len() != 12 || !id.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(AppError::Invalid("id: a token id is 12 hex digits".into()));
    }
    let (actor, target) = (caller.subject.clone(), format!("token:{id}"));
    let entry: RevocationAudit = Box::new(move |done| match done {
        TokenRevocation::Revoked { revoked_ms } => audit(
            &actor,
            "token.revoke",
            &target,
            serde_json::json!({"revoked_ms": revoked_ms}),
        ),
        TokenRevocation::AlreadyRevoked { revoked_ms } => audit_outcome(
            &actor,
            "token.revoke",
            &target,
            "failed",
            serde_json::json!({"reason": "already revoked", "revoked_ms": revoked_ms}),
        ),
        TokenRevocation::Unknown => audit_outcome(
            &actor,
            "token.revoke",
            &target,
            "failed",
            serde_json::json!({"reason": "no such token"}),
        ),
    });
    let done = state.store.token_revoke_audited(id, now(), entry).await?;
    match done {
        TokenRevocation::Revoked { .. } => Ok(()),
        TokenRevocation::AlreadyRevoked { revoked_ms } => Err(AppError::Conflict(format!(
            "token {id} was already revoked (at {revoked_ms} ms)"
        ))),
        TokenRevocation::Unknown => Err(AppError::NotFound(format!("no token {id}"))),
    }
}
