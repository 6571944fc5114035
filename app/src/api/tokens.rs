//! API tokens for automation (admin): issue (shown once, with a fresh MFA login), list, revoke.

use crate::error::AppError;
use crate::model::{TokenCreated, TokenInfo};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
fn info(t: crate::ssr::store::TokenRecord) -> Option<TokenInfo> {
    Some(TokenInfo {
        role: crate::model::Role::parse(&t.role)?,
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
#[server(prefix = "/api/v1", endpoint = "tokens/create")]
pub async fn create_token(name: String, role: String, days: u32) -> Result<TokenCreated, AppError> {
    super::finish(
        async {
            use crate::ssr::audit::NewAuditEntry;
            let (state, caller) = crate::ssr::auth::current().await?;
            caller.require(crate::model::Role::Admin)?;
            caller.require_fresh_mfa(state.config.auth.mode, "/audit")?;
            let name = name.trim().to_string();
            if name.is_empty() || name.len() > 100 || name.chars().any(char::is_control) {
                return Err(AppError::Invalid("name: 1 to 100 printable characters".into()));
            }
            let role = crate::model::Role::parse(&role).ok_or_else(|| {
                AppError::Invalid(format!("role: \"{role}\" is not viewer, responder, approver or admin"))
            })?;
            if !(1..=90).contains(&days) {
                return Err(AppError::Invalid("days: 1 to 90".into()));
            }
            let (id, token) = crate::ssr::tokens::generate();
            let now = chrono::Utc::now().timestamp_millis();
            let record = crate::ssr::store::TokenRecord {
                id: id.clone(),
                name: name.clone(),
                role: role.label().to_string(),
                token_hash: crate::ssr::tokens::hash(&token),
                created_by: caller.subject.clone(),
                created_ms: now,
                expires_ms: now + i64::from(days) * 86_400_000,
                revoked_ms: None,
                last_used_ms: None,
            };
            state
                .store
                .token_create(&record)
                .await
                .map_err(|e| AppError::Unavailable(format!("token store: {e}")))?;
            let entry = NewAuditEntry::new(
                &caller.subject,
                "token.create",
                &format!("token:{id}"),
                "ok",
                serde_json::json!({"name": name, "role": role.label(), "days": days}),
            )
            .with_request_id(&crate::ssr::auth::request_id());
            if let Err(e) = state.audit(entry).await {
                // Fail closed: a token nobody can account for must not work.
                let _ = state.store.token_revoke(&id, now).await;
                return Err(e);
            }
            let info = info(record).ok_or_else(|| AppError::Internal("token role".into()))?;
            Ok(TokenCreated { info, token })
        }
        .await,
    )
    .await
}

/// Every token, newest first, without secrets (admin).
#[server(prefix = "/api/v1", endpoint = "tokens/list")]
pub async fn list_tokens() -> Result<Vec<TokenInfo>, AppError> {
    super::finish(
        async {
            let (state, caller) = crate::ssr::auth::current().await?;
            caller.require(crate::model::Role::Admin)?;
            let all = state
                .store
                .token_list()
                .await
                .map_err(|e| AppError::Unavailable(format!("token store: {e}")))?;
            Ok(all.into_iter().filter_map(info).collect())
        }
        .await,
    )
    .await
}

/// Revokes a token at once (admin).
#[server(prefix = "/api/v1", endpoint = "tokens/revoke")]
pub async fn revoke_token(id: String) -> Result<(), AppError> {
    super::finish(
        async {
            use crate::ssr::audit::NewAuditEntry;
            let (state, caller) = crate::ssr::auth::current().await?;
            caller.require(crate::model::Role::Admin)?;
            if id.len() != 12 || !id.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(AppError::Invalid("id: a token id is 12 hex digits".into()));
            }
            let now = chrono::Utc::now().timestamp_millis();
            let entry = NewAuditEntry::new(
                &caller.subject,
                "token.revoke",
                &format!("token:{id}"),
                "ok",
                serde_json::json!({}),
            )
            .with_request_id(&crate::ssr::auth::request_id());
            // Audit first: if it cannot be written, the token stays as it was and the caller knows.
            state.audit(entry).await?;
            let done = state
                .store
                .token_revoke(&id, now)
                .await
                .map_err(|e| AppError::Unavailable(format!("token store: {e}")))?;
            if done {
                Ok(())
            } else {
                Err(AppError::NotFound(format!("no active token {id}")))
            }
        }
        .await,
    )
    .await
}
