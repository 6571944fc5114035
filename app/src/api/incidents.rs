//! Incidents: list, read, declare, status, severity, roles, notes, pins, post-mortem, export.

use crate::error::AppError;
use crate::model::{IncidentList, IncidentStatus, IncidentView};
use leptos::prelude::*;

/// Incidents, open first. `status`: "open", a status word, or empty for all; `severity` 0 for all.
#[server(prefix = "/api/v1", endpoint = "incidents/list")]
pub async fn list_incidents(
    #[server(default)] environment: String,
    #[server(default)] status: String,
    #[server(default)] severity: u8,
) -> Result<IncidentList, AppError> {
    super::as_caller(move |state, caller| async move {
        crate::ssr::incidents::list(&state, &caller, &environment, &status, severity).await
    })
    .await
}

/// One incident with its timeline, rollbacks and post-mortem (and a draft of it).
#[server(prefix = "/api/v1", endpoint = "incidents/get")]
pub async fn get_incident(id: i64) -> Result<IncidentView, AppError> {
    super::as_caller(move |state, caller| async move { crate::ssr::incidents::view(&state, &caller, id).await }).await
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
    use crate::ssr::kernel::input::{AlarmNames, ServiceRefs, Summary, Ticket, Title, severity as sev};
    super::as_caller(move |state, caller| async move {
        // The caller first (a refusal is a 403, audited), then the input.
        crate::ssr::incidents::may_respond(&caller)?;
        let d = crate::ssr::incidents::Declare {
            environment,
            title: Title::parse(&title)?,
            severity: sev(severity)?,
            alarms: AlarmNames::parse(&alarms)?,
            services: ServiceRefs::parse(&services)?,
            ticket: Ticket::parse_optional(&ticket)?,
            summary: Summary::parse_optional(&summary)?,
        };
        let id = crate::ssr::incidents::declare(&state, &caller, d).await?;
        super::go_to(&format!("/incidents/{id}"));
        Ok(id)
    })
    .await
}

/// Moves an incident to `to` when the move is legal (responder).
#[server(prefix = "/api/v1", endpoint = "incidents/status")]
pub async fn set_incident_status(
    id: i64,
    to: String,
    #[server(default)] note: String,
) -> Result<IncidentStatus, AppError> {
    super::as_caller(move |state, caller| async move {
        // The caller first (a refusal is a 403, audited), then the input.
        crate::ssr::incidents::may_respond(&caller)?;
        use crate::ssr::{incidents, kernel::input::StatusNote};
        incidents::transition(
            &state,
            &caller,
            id,
            incidents::parse_status(&to)?,
            StatusNote::parse_optional(&note)?,
        )
        .await
    })
    .await
}

#[server(prefix = "/api/v1", endpoint = "incidents/severity")]
pub async fn set_incident_severity(id: i64, severity: u8, reason: String) -> Result<(), AppError> {
    super::as_caller(move |state, caller| async move {
        // The caller first (a refusal is a 403, audited), then the input.
        crate::ssr::incidents::may_respond(&caller)?;
        use crate::ssr::kernel::input::{Reason, severity as sev};
        crate::ssr::incidents::set_severity(&state, &caller, id, sev(severity)?, Reason::parse(&reason)?).await
    })
    .await
}

#[server(prefix = "/api/v1", endpoint = "incidents/roles")]
pub async fn set_incident_roles(
    id: i64,
    #[server(default)] commander: String,
    #[server(default)] communications: String,
) -> Result<(), AppError> {
    super::as_caller(move |state, caller| async move {
        // The caller first (a refusal is a 403, audited), then the input.
        crate::ssr::incidents::may_respond(&caller)?;
        use crate::ssr::kernel::input::Person;
        let (commander, communications) = (
            Person::parse("commander", &commander)?,
            Person::parse("communications", &communications)?,
        );
        crate::ssr::incidents::set_roles(&state, &caller, id, commander, communications).await
    })
    .await
}

/// Adds a note, a status update (`kind = "update"`) or a correction to the timeline.
#[server(prefix = "/api/v1", endpoint = "incidents/note")]
pub async fn add_incident_note(id: i64, #[server(default)] kind: String, text: String) -> Result<(), AppError> {
    super::as_caller(move |state, caller| async move {
        // The caller first (a refusal is a 403, audited), then the input.
        crate::ssr::incidents::may_respond(&caller)?;
        use crate::ssr::{incidents, kernel::input::NoteText};
        incidents::add_note(
            &state,
            &caller,
            id,
            incidents::NoteKind::parse(&kind)?,
            NoteText::parse(&text)?,
        )
        .await
    })
    .await
}

#[server(prefix = "/api/v1", endpoint = "incidents/pin")]
pub async fn pin_incident_entry(id: i64, entry: i64, pinned: bool) -> Result<(), AppError> {
    super::as_caller(move |state, caller| async move {
        crate::ssr::incidents::pin(&state, &caller, id, entry, pinned).await
    })
    .await
}

#[server(prefix = "/api/v1", endpoint = "incidents/postmortem")]
pub async fn save_incident_postmortem(id: i64, text: String) -> Result<(), AppError> {
    super::as_caller(move |state, caller| async move {
        // The caller first (a refusal is a 403, audited), then the input.
        crate::ssr::incidents::may_respond(&caller)?;
        use crate::ssr::kernel::input::Postmortem;
        crate::ssr::incidents::save_postmortem(&state, &caller, id, Postmortem::parse(&text)?).await
    })
    .await
}

/// The timeline as `md` (Markdown) or `json`.
#[server(prefix = "/api/v1", endpoint = "incidents/export")]
pub async fn export_incident(id: i64, format: String) -> Result<String, AppError> {
    super::as_caller(
        move |state, caller| async move { crate::ssr::incidents::export(&state, &caller, id, &format).await },
    )
    .await
}
