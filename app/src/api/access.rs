//! Break-glass access: request, decide (approve/deny), cancel, activate (credentials shown
//! once), revoke, the emergency path and its review; the overview and one request's page.

use crate::error::AppError;
use crate::model::{AccessDetail, AccessOverview, IssuedCredentials};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
fn number(field: &str, v: &str) -> Result<i64, AppError> {
    match v.trim() {
        "" => Ok(0),
        n => n
            .parse::<i64>()
            .map_err(|_| AppError::Invalid(format!("{field}: \"{n}\" is not a number"))),
    }
}

/// My requests, requests waiting for my decision, emergency grants waiting for review, and the
/// profiles I may request.
#[server(prefix = "/api/v1", endpoint = "access/overview")]
pub async fn get_access_overview() -> Result<AccessOverview, AppError> {
    super::as_caller(move |state, caller| async move { crate::ssr::access::overview(&state, &caller).await }).await
}

/// One request with who asks, for what, why, the decisions and the requester's earlier requests.
/// `token` is the approval link's, when the page was opened from Slack.
#[server(prefix = "/api/v1", endpoint = "access/get")]
pub async fn get_access_request(id: i64, #[server(default)] token: String) -> Result<AccessDetail, AppError> {
    super::as_caller(move |state, caller| async move { crate::ssr::access::detail(&state, &caller, id, &token).await })
        .await
}

/// Asks for a profile (responder, in the profile's requester groups, fresh MFA where required).
#[server(prefix = "/api/v1", endpoint = "access/request")]
pub async fn request_access(
    environment: String,
    profile: String,
    reason: String,
    minutes: u32,
    #[server(default)] ticket: String,
    #[server(default)] incident: String,
    #[server(default)] extends: String,
) -> Result<i64, AppError> {
    super::as_caller(move |state, caller| async move {
        crate::ssr::access::may_ask(&caller)?;
        use crate::ssr::kernel::input::{Minutes, Reason, Ticket};
        let q = crate::ssr::access::NewRequest {
            environment,
            profile,
            reason: Reason::parse(&reason)?,
            ticket: Ticket::parse_optional(&ticket)?,
            incident_id: number("incident", &incident)?,
            minutes: Minutes::parse(minutes)?,
            extends_id: number("extends", &extends)?,
        };
        let id = crate::ssr::access::request(&state, &caller, q).await?;
        super::go_to(&format!("/access/requests/{id}"));
        Ok(id)
    })
    .await
}

/// Approves (`decision = "approve"`) or denies (`"deny"`, with a comment). Never the requester;
/// an approver of the profile's groups with a fresh MFA login where the profile demands it.
#[server(prefix = "/api/v1", endpoint = "access/decide")]
pub async fn decide_access(
    id: i64,
    decision: String,
    #[server(default)] comment: String,
    #[server(default)] token: String,
) -> Result<String, AppError> {
    super::as_caller(move |state, caller| async move {
        crate::ssr::access::person_only(&caller)?;
        let approve = match crate::model::Decision::parse(&decision) {
            Some(d) => d == crate::model::Decision::Approve,
            None => {
                return Err(AppError::Invalid(format!(
                    "decision: \"{decision}\" is not approve or deny"
                )));
            }
        };
        let comment = crate::ssr::kernel::input::Comment::parse_optional(&comment)?;
        crate::ssr::access::decide(&state, &caller, id, approve, comment, &token).await
    })
    .await
}

#[server(prefix = "/api/v1", endpoint = "access/cancel")]
pub async fn cancel_access(id: i64) -> Result<(), AppError> {
    super::as_caller(move |state, caller| async move { crate::ssr::access::cancel(&state, &caller, id).await }).await
}

/// The requester activates an approved request: the temporary credentials, shown this once.
#[server(prefix = "/api/v1", endpoint = "access/activate")]
pub async fn activate_access(id: i64) -> Result<IssuedCredentials, AppError> {
    super::as_caller(move |state, caller| async move {
        super::shown_once();
        super::not_by_plain_form("credentials", "activate with the button on the request page")?;
        crate::ssr::access::activate(&state, &caller, id).await
    })
    .await
}

/// Ends a grant early; issued credentials stop working (inline deny on the role's session).
#[server(prefix = "/api/v1", endpoint = "access/revoke")]
pub async fn revoke_access(id: i64, #[server(default)] reason: String) -> Result<(), AppError> {
    super::as_caller(move |state, caller| async move {
        crate::ssr::access::person_only(&caller)?;
        let reason = crate::ssr::kernel::input::Reason::parse_optional(&reason)?;
        crate::ssr::access::revoke(&state, &caller, id, reason).await
    })
    .await
}

/// Break-glass during a declared SEV1/SEV2 incident: self-approved, shorter, broadcast, reviewed later.
#[server(prefix = "/api/v1", endpoint = "access/emergency")]
pub async fn emergency_access(
    environment: String,
    profile: String,
    incident: String,
    reason: String,
) -> Result<i64, AppError> {
    super::as_caller(move |state, caller| async move {
        crate::ssr::access::may_ask(&caller)?;
        let (incident, reason) = (
            number("incident", &incident)?,
            crate::ssr::kernel::input::Reason::parse(&reason)?,
        );
        let id = crate::ssr::access::emergency(&state, &caller, &environment, &profile, incident, reason).await?;
        super::go_to(&format!("/access/requests/{id}"));
        Ok(id)
    })
    .await
}

/// What the request's credentials did: the CloudTrail events of its role session (viewer).
#[server(prefix = "/api/v1", endpoint = "access/activity")]
pub async fn get_access_activity(id: i64) -> Result<crate::model::SessionActivity, AppError> {
    super::as_caller(
        move |state, caller| async move { crate::ssr::activity::sessions::activity(&state, &caller, id).await },
    )
    .await
}

/// The post-incident review of an emergency grant (an approver other than the grantee), who
/// has read what its session did: `seen` is the `digest` of `access/activity` they were shown.
#[server(prefix = "/api/v1", endpoint = "access/review")]
pub async fn review_access(id: i64, note: String, #[server(default)] seen: String) -> Result<(), AppError> {
    super::as_caller(move |state, caller| async move {
        crate::ssr::access::may_review(&caller)?;
        let note = crate::ssr::kernel::input::ReviewNote::parse(&note)?;
        // Required reading: what the session did, as the reviewer was shown it (`access/activity`).
        crate::ssr::activity::sessions::must_have_read(&state, id, &seen).await?;
        crate::ssr::access::review(&state, &caller, id, note).await
    })
    .await
}
