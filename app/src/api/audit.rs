//! The audit log page's read (admin).

use crate::error::AppError;
use crate::model::AuditPage;
use leptos::prelude::*;

/// The newest audit entries, optionally filtered by actor and action (admin).
#[server(prefix = "/api/v1", endpoint = "audit/list")]
pub async fn list_audit(
    actor: Option<String>,
    action: Option<String>,
    limit: Option<i64>,
) -> Result<AuditPage, AppError> {
    super::as_caller(move |s, c| async move { crate::ssr::audit_log::list(&s, &c, actor, action, limit).await }).await
}
