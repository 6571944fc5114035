//! The guarded rollback: what a service can roll back to, the request, and the second person's
//! confirmation.

use crate::error::AppError;
use crate::model::{RollbackTarget, RollbackView};
use leptos::prelude::*;

/// What a service can roll back to, and why rollback is off when it is.
#[server(prefix = "/api/v1", endpoint = "rollbacks/target")]
pub async fn get_rollback_target(
    environment: String,
    cluster: String,
    service: String,
) -> Result<RollbackTarget, AppError> {
    super::as_caller(move |state, caller| async move {
        crate::ssr::rollbacks::rollback_target(&state, &caller, &environment, &cluster, &service).await
    })
    .await
}

/// Asks for a rollback of a service to an earlier revision `to` of its task-definition family (a
/// person with the responder role; in a prod environment with an open incident of it); a second
/// person confirms.
#[server(prefix = "/api/v1", endpoint = "rollbacks/request")]
pub async fn request_rollback(
    environment: String,
    cluster: String,
    service: String,
    to: String,
    reason: String,
    #[server(default)] incident: String,
) -> Result<i64, AppError> {
    super::as_caller(move |state, caller| async move {
        crate::ssr::rollbacks::may_request(&caller)?;
        let incident = match incident.trim() {
            "" => 0,
            n => n
                .parse::<i64>()
                .map_err(|_| AppError::Invalid(format!("incident: \"{n}\" is not an incident number")))?,
        };
        use crate::ssr::kernel::input::{ClusterName, Reason, Revision, ServiceName};
        let q = crate::ssr::rollbacks::RollbackRequest {
            environment,
            cluster: ClusterName::parse(&cluster)?,
            service: ServiceName::parse(&service)?,
            to: Revision::parse(&to)?,
            incident_id: incident,
            reason: Reason::parse(&reason)?,
        };
        crate::ssr::rollbacks::request_rollback(&state, &caller, q).await
    })
    .await
}

/// Confirms someone else's rollback (a person with the responder or approver role) and sends
/// UpdateService.
#[server(prefix = "/api/v1", endpoint = "rollbacks/confirm")]
pub async fn confirm_rollback(id: i64) -> Result<RollbackView, AppError> {
    super::as_caller(move |state, caller| async move {
        crate::ssr::rollbacks::may_confirm(&caller)?;
        crate::ssr::rollbacks::confirm_rollback(&state, &caller, id).await
    })
    .await
}
