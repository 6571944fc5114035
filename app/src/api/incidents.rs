//! Incidents: list, read, declare, status, severity, roles, notes, pins, post-mortem, export;
//! and the guarded rollback (request, confirm, what a service can roll back to).

use crate::error::AppError;
use crate::model::{IncidentList, IncidentStatus, IncidentView, RollbackTarget, RollbackView};
use leptos::prelude::*;

/// Incidents, open first. `status`: "open", a status word, or empty for all; `severity` 0 for all.
#[server(prefix = "/api/v1", endpoint = "incidents/list")]
pub async fn list_incidents(
    #[server(default)] environment: String,
    #[server(default)] status: String,
    #[server(default)] severity: u8,
) -> Result<IncidentList, AppError> {
    super::finish(
        async {
            let (state, caller) = crate::ssr::auth::current().await?;
            crate::ssr::incidents::list(&state, &caller, &environment, &status, severity).await
        }
        .await,
    )
    .await
}

/// One incident with its timeline, rollbacks and post-mortem (and a draft of it).
#[server(prefix = "/api/v1", endpoint = "incidents/get")]
pub async fn get_incident(id: i64) -> Result<IncidentView, AppError> {
    super::finish(
        async {
            let (state, caller) = crate::ssr::auth::current().await?;
            crate::ssr::incidents::view(&state, &caller, id).await
        }
        .await,
    )
    .await
}

/// Declares an incident (responder). `alarms` and `services` (`cluster/service`) are
/// comma-separated; the declaring person is the first commander. Returns the id.
#[server(prefix = "/api/v1", endpoint = "incidents/declare")]
pub async fn declare_incident(
    environment: String,
    title: String,
    severity: u8,
    #[server(default)] alarms: String,
    #[server(default)] services: String,
    #[server(default)] ticket: String,
    #[server(default)] summary: String,
) -> Result<i64, AppError> {
    super::finish(
        async {
            let (state, caller) = crate::ssr::auth::current().await?;
            let d = crate::ssr::incidents::Declare {
                environment,
                title,
                severity,
                alarms,
                services,
                ticket,
                summary,
            };
            crate::ssr::incidents::declare(&state, &caller, d).await
        }
        .await,
    )
    .await
}

/// Moves an incident to `to` when the move is legal (responder).
#[server(prefix = "/api/v1", endpoint = "incidents/status")]
pub async fn set_incident_status(
    id: i64,
    to: String,
    #[server(default)] note: String,
) -> Result<IncidentStatus, AppError> {
    super::finish(
        async {
            let (state, caller) = crate::ssr::auth::current().await?;
            crate::ssr::incidents::transition(&state, &caller, id, &to, &note).await
        }
        .await,
    )
    .await
}

#[server(prefix = "/api/v1", endpoint = "incidents/severity")]
pub async fn set_incident_severity(id: i64, severity: u8, reason: String) -> Result<(), AppError> {
    super::finish(
        async {
            let (state, caller) = crate::ssr::auth::current().await?;
            crate::ssr::incidents::set_severity(&state, &caller, id, severity, &reason).await
        }
        .await,
    )
    .await
}

#[server(prefix = "/api/v1", endpoint = "incidents/roles")]
pub async fn set_incident_roles(
    id: i64,
    #[server(default)] commander: String,
    #[server(default)] communications: String,
) -> Result<(), AppError> {
    super::finish(
        async {
            let (state, caller) = crate::ssr::auth::current().await?;
            crate::ssr::incidents::set_roles(&state, &caller, id, &commander, &communications).await
        }
        .await,
    )
    .await
}

/// Adds a note, a status update (`kind = "update"`) or a correction to the timeline.
#[server(prefix = "/api/v1", endpoint = "incidents/note")]
pub async fn add_incident_note(id: i64, #[server(default)] kind: String, text: String) -> Result<(), AppError> {
    super::finish(
        async {
            let (state, caller) = crate::ssr::auth::current().await?;
            crate::ssr::incidents::add_note(&state, &caller, id, &kind, &text).await
        }
        .await,
    )
    .await
}

#[server(prefix = "/api/v1", endpoint = "incidents/pin")]
pub async fn pin_incident_entry(id: i64, entry: i64, pinned: bool) -> Result<(), AppError> {
    super::finish(
        async {
            let (state, caller) = crate::ssr::auth::current().await?;
            crate::ssr::incidents::pin(&state, &caller, id, entry, pinned).await
        }
        .await,
    )
    .await
}

#[server(prefix = "/api/v1", endpoint = "incidents/postmortem")]
pub async fn save_incident_postmortem(id: i64, text: String) -> Result<(), AppError> {
    super::finish(
        async {
            let (state, caller) = crate::ssr::auth::current().await?;
            crate::ssr::incidents::save_postmortem(&state, &caller, id, &text).await
        }
        .await,
    )
    .await
}

/// The timeline as `md` (Markdown) or `json`.
#[server(prefix = "/api/v1", endpoint = "incidents/export")]
pub async fn export_incident(id: i64, format: String) -> Result<String, AppError> {
    super::finish(
        async {
            let (state, caller) = crate::ssr::auth::current().await?;
            let v = crate::ssr::incidents::view(&state, &caller, id).await?;
            match format.as_str() {
                "md" | "markdown" => Ok(crate::ssr::incidents::markdown(&v)),
                "json" => serde_json::to_string_pretty(&crate::ssr::incidents::json(&v))
                    .map_err(|e| AppError::Internal(e.to_string())),
                other => Err(AppError::Invalid(format!("format: \"{other}\" is not md or json"))),
            }
        }
        .await,
    )
    .await
}

/// What a service can roll back to, and why rollback is off when it is.
#[server(prefix = "/api/v1", endpoint = "rollbacks/target")]
pub async fn get_rollback_target(
    environment: String,
    cluster: String,
    service: String,
) -> Result<RollbackTarget, AppError> {
    super::finish(
        async {
            let (state, caller) = crate::ssr::auth::current().await?;
            crate::ssr::incidents::rollback_target(&state, &caller, &environment, &cluster, &service).await
        }
        .await,
    )
    .await
}

/// Asks for a rollback of a service to task definition `to` (responder); a second person confirms.
#[server(prefix = "/api/v1", endpoint = "rollbacks/request")]
pub async fn request_rollback(
    environment: String,
    cluster: String,
    service: String,
    to: String,
    reason: String,
    #[server(default)] incident: String,
) -> Result<i64, AppError> {
    super::finish(
        async {
            let (state, caller) = crate::ssr::auth::current().await?;
            let incident = match incident.trim() {
                "" => 0,
                n => n
                    .parse::<i64>()
                    .map_err(|_| AppError::Invalid(format!("incident: \"{n}\" is not an incident number")))?,
            };
            let q = crate::ssr::incidents::RollbackRequest {
                environment,
                cluster,
                service,
                to,
                incident_id: incident,
                reason,
            };
            crate::ssr::incidents::request_rollback(&state, &caller, q).await
        }
        .await,
    )
    .await
}

/// Confirms someone else's rollback (responder or approver) and sends UpdateService.
#[server(prefix = "/api/v1", endpoint = "rollbacks/confirm")]
pub async fn confirm_rollback(id: i64) -> Result<RollbackView, AppError> {
    super::finish(
        async {
            let (state, caller) = crate::ssr::auth::current().await?;
            crate::ssr::incidents::confirm_rollback(&state, &caller, id).await
        }
        .await,
    )
    .await
}
