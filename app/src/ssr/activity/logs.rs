//! The log view of one source, Logs Insights queries over its group, and a line attached to an
//! incident's timeline.

use super::input::LogWindow;
use super::{environment, resolve, sources};
use crate::error::AppError;
use crate::model::{DataNote, InsightsView, LOG_MAX_LINES, LogSource, LogView, Role};
use crate::ssr::auth::Caller;
use crate::ssr::cloud::{CloudError, LogTarget};
use crate::ssr::kernel::clock::now;
use crate::ssr::state::AppState;
use crate::ssr::store::Effects;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The lines of `source` in the window that match `filter`, newest first.
pub async fn view(
    state: &AppState,
    caller: &Caller,
    name: &str,
    source: Option<LogSource>,
    filter: &str,
    window: LogWindow,
) -> Result<LogView, AppError> {
    let (meta, summary, inv) = environment(state, caller, name).await?;
    let source = match source {
        Some(s) => s,
        None => sources(&inv).into_iter().next().ok_or_else(|| {
            AppError::NotFound(format!(
                "{name} has no function, service, API or rule whose logs the console reads"
            ))
        })?,
    };
    let source = &source;
    let (resource, task) = resolve(&inv, source)?;
    let cloud = state.cloud(&meta);
    let mut notes = Vec::new();
    let stopped_reason = task.filter(|t| t.last_status == "STOPPED").map(|t| {
        format!(
            "stopped{}",
            t.stopped_reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        )
    });
    let place = match cloud.log_place(&meta.name, &LogTarget { resource, task }).await {
        Ok(p) => Some(p),
        Err(CloudError::NotAvailable(why)) => {
            notes.push(DataNote {
                part: "logs".into(),
                message: why,
                stale_age_s: None,
            });
            None
        }
        Err(e) => return Err(e.into()),
    };
    let (lines, truncated) = match &place {
        Some(p) => cloud
            .log_lines(&meta.name, p, window.start_ms, window.end_ms, filter, LOG_MAX_LINES)
            .await
            .map_err(AppError::from)?,
        None => (vec![], false),
    };
    let incidents = state
        .store
        .incidents_open()
        .await?
        .into_iter()
        .filter(|i| i.environment == meta.name)
        .map(|i| (i.id, i.title))
        .collect();
    Ok(LogView {
        summary,
        source: source.clone(),
        group: place.as_ref().map(|p| p.group.clone()),
        streams: place.as_ref().and_then(|p| p.streams_text()),
        filter: filter.to_string(),
        start_ms: window.start_ms,
        end_ms: window.end_ms,
        live: window.live,
        lines,
        truncated,
        stopped_reason,
        sources: sources(&inv),
        incidents,
        notes,
        fetched_ms: now(),
    })
}

fn ticket_mac(key: &[u8], env: &str, source: &LogSource, id: &str) -> String {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("any key length"));
    m.update(format!("insights:{env}:{}:{id}", source.key()).as_bytes());
    hex::encode(m.finalize().into_bytes())
}

/// `{query id}.{HMAC}`: the query's id, signed for this environment and source, so a results
/// read cannot name a query another environment (sharing the account) started.
fn ticket(state: &AppState, env: &str, source: &LogSource, id: &str) -> String {
    format!("{id}.{}", ticket_mac(&state.link_key(), env, source, id))
}

fn query_id(state: &AppState, env: &str, source: &LogSource, ticket: &str) -> Result<String, AppError> {
    let (id, sig) = ticket
        .rsplit_once('.')
        .ok_or_else(|| AppError::Invalid("ticket: malformed".into()))?;
    if id.is_empty()
        || id.len() > 256
        || !crate::ssr::kernel::secrets::same_secret(sig, &ticket_mac(&state.link_key(), env, source, id))
    {
        return Err(AppError::Invalid("ticket: not a query of this source".into()));
    }
    Ok(id.to_string())
}

/// Starts a Logs Insights query over the source's group for the window.
pub async fn insights_start(
    state: &AppState,
    caller: &Caller,
    name: &str,
    source: &LogSource,
    query: &str,
    window: LogWindow,
) -> Result<InsightsView, AppError> {
    let (meta, summary, inv) = environment(state, caller, name).await?;
    let (resource, task) = resolve(&inv, source)?;
    let cloud = state.cloud(&meta);
    let place = cloud.log_place(&meta.name, &LogTarget { resource, task }).await?;
    let id = cloud
        .insights_start(&meta.name, &place, window.start_ms, window.end_ms, query)
        .await?;
    Ok(InsightsView {
        source: source.clone(),
        query: query.to_string(),
        status: "Scheduled".into(),
        columns: vec![],
        rows: vec![],
        bytes_scanned: 0.0,
        records_scanned: 0.0,
        records_matched: 0.0,
        stopped_at_bound: false,
        ticket: ticket(state, &meta.name, source, &id),
        demo: summary.demo,
    })
}

/// What the query of `ticket` found so far; one past `INSIGHTS_MAX_BYTES` scanned is stopped.
pub async fn insights_read(
    state: &AppState,
    caller: &Caller,
    name: &str,
    source: &LogSource,
    ticket: &str,
) -> Result<InsightsView, AppError> {
    let (meta, summary, _) = environment(state, caller, name).await?;
    let id = query_id(state, &meta.name, source, ticket)?;
    let cloud = state.cloud(&meta);
    let mut read = cloud.insights_results(&meta.name, &id).await?;
    let over = !matches!(read.status.as_str(), "Complete" | "Failed" | "Cancelled" | "Timeout")
        && read.bytes_scanned > crate::model::INSIGHTS_MAX_BYTES;
    if over {
        cloud.insights_stop(&meta.name, &id).await?;
        read.status = "Cancelled".into();
    }
    Ok(InsightsView {
        source: source.clone(),
        query: String::new(),
        status: read.status,
        columns: read.columns,
        rows: read.rows,
        bytes_scanned: read.bytes_scanned,
        records_scanned: read.records_scanned,
        records_matched: read.records_matched,
        stopped_at_bound: over,
        ticket: ticket.to_string(),
        demo: summary.demo,
    })
}

/// A log line, read again from the source to check it is what was shown, attached to an open
/// incident of the same environment as a timeline entry at the line's time.
#[allow(clippy::too_many_arguments)]
pub async fn attach(
    state: &AppState,
    caller: &Caller,
    incident: i64,
    name: &str,
    source: &LogSource,
    t_ms: i64,
    stream: &str,
    message: &str,
) -> Result<(), AppError> {
    caller.require(Role::Responder)?;
    let rec = state
        .store
        .incident_get(incident)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no incident {incident}")))?;
    if rec.environment != name {
        return Err(AppError::Invalid(format!(
            "incident: incident {incident} is about {}, not {name}",
            rec.environment
        )));
    }
    if !rec.status.is_open() {
        return Err(AppError::Conflict(format!(
            "incident {incident} is {}",
            rec.status.label()
        )));
    }
    let (meta, _, inv) = environment(state, caller, name).await?;
    let (resource, task) = resolve(&inv, source)?;
    let cloud = state.cloud(&meta);
    let place = cloud.log_place(&meta.name, &LogTarget { resource, task }).await?;
    let (lines, _) = cloud
        .log_lines(&meta.name, &place, t_ms, t_ms + 1, "", LOG_MAX_LINES)
        .await?;
    let line = lines
        .into_iter()
        .find(|l| l.stream == stream && l.message == message)
        .ok_or_else(|| AppError::NotFound(format!("no such line in {} at that time", place.group)))?;
    let excerpt: String = line.message.chars().take(2000).collect();
    let text = format!(
        "Log line from {} ({}), {}:\n{excerpt}",
        source.label(),
        place.group,
        line.stream
    );
    let mut e = crate::ssr::kernel::effects::entry(incident, line.t_ms, "log", &caller.subject, text);
    e.detail = serde_json::json!({"group": place.group, "stream": line.stream, "source": source.key()}).to_string();
    let effects = Effects {
        entries: vec![e],
        outbox: vec![],
        audit: vec![crate::ssr::kernel::effects::audit(
            &caller.subject,
            "incident.log_attached",
            &format!("incident:{incident}"),
            serde_json::json!({"source": source.key(), "group": place.group, "at_ms": line.t_ms}),
        )],
    };
    state.store.effects_apply(effects).await?;
    Ok(())
}
