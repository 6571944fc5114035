//! Logs, Logs Insights and recent changes of an environment (issue 16); what a grant's session
//! did is `access/activity` (api/access.rs).

use crate::error::AppError;
use crate::model::{ChangesView, InsightsView, LogView};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
fn source_of(v: &str) -> Result<crate::model::LogSource, AppError> {
    crate::model::LogSource::parse(v).map_err(AppError::Invalid)
}

/// The lines of one source (empty: the environment's first; `lambda:NAME`, `service:NAME`, `task:ID`, `api:NAME`, `rule:NAME`)
/// over the last `minutes` (1-1440, default 15) up to `end` (Unix ms, default now), or the half
/// hour `around` a time (Unix ms, an alarm's state change), that match
/// `filter` (a CloudWatch Logs filter pattern), newest first, at most 500 (viewer).
#[server(prefix = "/api/v1", endpoint = "logs/read")]
pub async fn read_logs(
    name: String,
    #[server(default)] source: String,
    #[server(default)] filter: String,
    #[server(default)] minutes: String,
    #[server(default)] end: String,
    #[server(default)] around: String,
) -> Result<LogView, AppError> {
    super::as_caller(move |state, caller| async move {
        use crate::ssr::activity::{input, logs};
        caller.require(crate::model::Role::Viewer)?;
        // Empty: the environment's first source.
        let src = match source.trim() {
            "" => None,
            s => Some(source_of(s)?),
        };
        let window = input::LogWindow::parse_around(&around, &minutes, &end, crate::ssr::kernel::clock::now())?;
        let filter = input::filter_pattern(&filter)?;
        logs::view(&state, &caller, &name, src, &filter, window).await
    })
    .await
}

/// Starts a Logs Insights query over the source's log group for the window; its `ticket` names
/// it for `logs/insights/get`. A plain form post goes to the log page showing it (viewer).
#[server(prefix = "/api/v1", endpoint = "logs/insights/start")]
pub async fn start_insights(
    name: String,
    source: String,
    query: String,
    #[server(default)] minutes: String,
    #[server(default)] end: String,
) -> Result<InsightsView, AppError> {
    super::as_caller(move |state, caller| async move {
        use crate::ssr::activity::{input, logs};
        caller.require(crate::model::Role::Viewer)?;
        let src = source_of(&source)?;
        let window = input::LogWindow::parse(&minutes, &end, crate::ssr::kernel::clock::now())?;
        let q = input::insights_query(&query)?;
        let view = logs::insights_start(&state, &caller, &name, &src, &q, window).await?;
        super::go_to(&crate::model::logs_href(
            &name,
            &src,
            &crate::model::LogsQuery {
                minutes: window.minutes().to_string(),
                end: end.trim().to_string(),
                query: q,
                ticket: view.ticket.clone(),
                ..Default::default()
            },
        ));
        Ok(view)
    })
    .await
}

/// What the query of `ticket` has found so far: its status, rows and bytes scanned. A query
/// past 10 GiB scanned is stopped (viewer).
#[server(prefix = "/api/v1", endpoint = "logs/insights/get")]
pub async fn get_insights(name: String, source: String, ticket: String) -> Result<InsightsView, AppError> {
    super::as_caller(move |state, caller| async move {
        caller.require(crate::model::Role::Viewer)?;
        let src = source_of(&source)?;
        crate::ssr::activity::logs::insights_read(&state, &caller, &name, &src, ticket.trim()).await
    })
    .await
}

/// Attaches one log line to an open incident of the same environment: the line is read again
/// from the source and must be there as given (responder).
#[server(prefix = "/api/v1", endpoint = "logs/attach")]
pub async fn attach_log_line(
    incident: i64,
    name: String,
    source: String,
    t_ms: i64,
    stream: String,
    message: String,
) -> Result<(), AppError> {
    super::as_caller(move |state, caller| async move {
        crate::ssr::incidents::may_respond(&caller)?;
        let src = source_of(&source)?;
        if !(0..=crate::ssr::kernel::clock::now()).contains(&t_ms) {
            return Err(AppError::Invalid(
                "t_ms: a time in the past, in Unix milliseconds".into(),
            ));
        }
        if stream.len() > 512 || message.len() > 262_144 {
            return Err(AppError::Invalid("stream or message: too long for a log event".into()));
        }
        crate::ssr::activity::logs::attach(&state, &caller, incident, &name, &src, t_ms, &stream, &message).await?;
        super::go_to(&format!("/incidents/{incident}"));
        Ok(())
    })
    .await
}

/// The recent changes of an environment since `since` (`30m`, `6h`, `2d`, or a UTC time
/// `2026-12-01T09:30`; default 24 hours, at most 7 days), newest first, at most 500 (viewer).
#[server(prefix = "/api/v1", endpoint = "changes/list")]
pub async fn list_changes(name: String, #[server(default)] since: String) -> Result<ChangesView, AppError> {
    super::as_caller(move |state, caller| async move {
        caller.require(crate::model::Role::Viewer)?;
        let from = crate::ssr::activity::input::since(&since, crate::ssr::kernel::clock::now())?;
        crate::ssr::activity::changes::view(&state, &caller, &name, from).await
    })
    .await
}

/// Beside an incident's timeline: the changes of the hour before it was declared, and the logs
/// of its alarms' and services' resources (viewer).
#[server(prefix = "/api/v1", endpoint = "changes/incident")]
pub async fn get_incident_context(id: i64) -> Result<crate::model::IncidentContext, AppError> {
    super::as_caller(move |state, caller| async move {
        crate::ssr::activity::changes::incident_context(&state, &caller, id).await
    })
    .await
}
