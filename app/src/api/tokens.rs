//! API tokens for automation (admin): issue (shown once, with a fresh MFA login), list, revoke.

use crate::error::AppError;
use crate::model::{TokenCreated, TokenInfo};
use leptos::prelude::*;

/// Issues a token scoped to one role for `days` (1-90), shown once (`no-store`, not compressed). Needs the admin role and, in oidc mode,
/// an MFA login within `auth.step_up_minutes`.
#[server(prefix = "/api/v1", endpoint = "tokens/create")]
pub async fn create_token(name: String, role: String, days: u32) -> Result<TokenCreated, AppError> {
    super::as_caller(move |s, c| async move {
        super::shown_once();
        super::not_by_plain_form("a new token", "create it with curl or a script (docs/API.md)")?;
        crate::ssr::tokens::create(&s, &c, &name, &role, days).await
    })
    .await
}

/// Every token, newest first, without secrets (admin).
#[server(prefix = "/api/v1", endpoint = "tokens/list")]
pub async fn list_tokens() -> Result<Vec<TokenInfo>, AppError> {
    super::as_caller(move |s, c| async move { crate::ssr::tokens::list(&s, &c).await }).await
}

/// Revokes a token at once (admin).
#[server(prefix = "/api/v1", endpoint = "tokens/revoke")]
pub async fn revoke_token(id: String) -> Result<(), AppError> {
    super::as_caller(move |s, c| async move { crate::ssr::tokens::revoke(&s, &c, &id).await }).await
}
