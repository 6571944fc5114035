//! The recent changes of an environment, one time-ordered list: CloudTrail management writes on
//! its resources, ECS deployments, alarm state changes, and what was done through this console
//! (grants, rollbacks, incidents). The same list feeds the incident page ("changed in the hour
//! before") and the deployment marks of the metric charts.

use super::environment;
use crate::error::AppError;
use crate::model::{
    AlarmState, CHANGES_MAX, Change, ChangeSource, ChangesView, DataNote, IncidentContext, Inventory, LogSource,
    LogsQuery, logs_href,
};
use crate::ssr::auth::Caller;
use crate::ssr::kernel::clock::now;
use crate::ssr::state::{AppState, EnvMeta};
use std::collections::HashMap;

/// The changes page: [since, now).
pub async fn view(state: &AppState, caller: &Caller, name: &str, since_ms: i64) -> Result<ChangesView, AppError> {
    let (meta, summary, inv) = environment(state, caller, name).await?;
    let until = now();
    let (changes, truncated, notes) = collect(state, &meta, &inv, since_ms, until).await;
    Ok(ChangesView {
        summary,
        since_ms,
        until_ms: until,
        changes,
        truncated,
        notes,
    })
}

/// The changes of the hour before an incident was declared (up to now while that hour is not
/// over), and links to the logs of its alarms' and services' resources.
pub async fn incident_context(state: &AppState, caller: &Caller, id: i64) -> Result<IncidentContext, AppError> {
    caller.require(crate::model::Role::Viewer)?;
    // The same for every viewer (the caller may view, checked above): read once per
    // `CONTEXT_REUSE`, not on every 5 s refresh of every open incident page.
    let read = state
        .context_memo
        .get(&id.to_string(), || read_context(state, caller, id))
        .await;
    read.as_ref().clone()
}

async fn read_context(state: &AppState, caller: &Caller, id: i64) -> Result<IncidentContext, AppError> {
    let i = state
        .store
        .incident_get(id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no incident {id}")))?;
    let (meta, summary, inv) = environment(state, caller, &i.environment).await?;
    let from = i.started_ms - 3_600_000;
    let to = i.started_ms + 60_000;
    let (changes, truncated, notes) = collect(state, &meta, &inv, from, to).await;
    let q = |around: Option<i64>| LogsQuery {
        incident: id.to_string(),
        around: around.map(|t| t.to_string()).unwrap_or_default(),
        ..LogsQuery::default()
    };
    let mut logs: Vec<(String, String)> = Vec::new();
    for a in inv.alarms.iter().filter(|a| i.alarms.contains(&a.name)) {
        if let Some(src) = a.resource.as_deref().and_then(|r| inv.log_source_of(r)) {
            logs.push((
                format!(
                    "{} around {} ({})",
                    src.label(),
                    crate::model::format_ts(a.since_ms),
                    a.name
                ),
                logs_href(&meta.name, &src, &q(Some(a.since_ms))),
            ));
        }
    }
    for s in &i.services {
        let name = s.rsplit('/').next().unwrap_or(s);
        let src = LogSource::Service(name.to_string());
        if super::resolve(&inv, &src).is_ok() {
            logs.push((src.label(), logs_href(&meta.name, &src, &q(None))));
        }
    }
    Ok(IncidentContext {
        incident_id: id,
        environment: meta.name.clone(),
        from_ms: from,
        to_ms: to,
        changes,
        truncated,
        notes,
        logs,
        demo: summary.demo,
    })
}

/// Every change in [from, to), newest first, at most `CHANGES_MAX`; true when some were left
/// out. A source that cannot be read is a note, not an error: the others are still shown.
pub async fn collect(
    state: &AppState,
    meta: &EnvMeta,
    inv: &Inventory,
    from: i64,
    to: i64,
) -> (Vec<Change>, bool, Vec<DataNote>) {
    let mut notes = Vec::new();
    let mut out = from_inventory(inv, from, to);
    let (trail, console) = tokio::join!(
        state.cloud(meta).trail_changes(&meta.name, inv, from, to),
        console(state, &meta.name, from, to)
    );
    let mut truncated = false;
    match trail {
        Ok((mut changes, more)) => {
            truncated |= more;
            name_people(state, &mut changes).await;
            out.append(&mut changes);
        }
        Err(e) => notes.push(DataNote {
            part: "cloudtrail".into(),
            message: format!("CloudTrail could not be read, so changes made outside this console are missing: {e}"),
            stale_age_s: None,
        }),
    }
    match console {
        Ok(mut c) => out.append(&mut c),
        Err(e) => notes.push(DataNote {
            part: "console".into(),
            message: format!("this console's own records could not be read: {e}"),
            stale_age_s: None,
        }),
    }
    out.retain(|c| c.at_ms >= from && c.at_ms < to);
    out.sort_by(|a, b| b.at_ms.cmp(&a.at_ms).then(a.source.cmp(&b.source)));
    if out.len() > CHANGES_MAX {
        out.truncate(CHANGES_MAX);
        truncated = true;
    }
    (out, truncated, notes)
}

/// ECS deployments and alarm state changes, as the inventory read now tells them.
fn from_inventory(inv: &Inventory, from: i64, to: i64) -> Vec<Change> {
    let mut out = Vec::new();
    for r in &inv.resources {
        let Some(info) = &r.service else { continue };
        for d in &info.deployments {
            let Some(at) = d.created_ms.filter(|t| (from..to).contains(t)) else {
                continue;
            };
            out.push(Change {
                id: String::new(),
                at_ms: at,
                source: ChangeSource::Ecs,
                who: "ECS".into(),
                what: format!(
                    "deployment of {} ({}{})",
                    d.task_definition,
                    d.status,
                    d.rollout_state.as_deref().map(|s| format!(", {s}")).unwrap_or_default()
                ),
                resource: r.name.clone(),
                read_only: false,
                deployment: true,
                error: None,
            });
        }
    }
    for a in &inv.alarms {
        if (from..to).contains(&a.since_ms) {
            out.push(Change {
                id: String::new(),
                at_ms: a.since_ms,
                source: ChangeSource::Alarm,
                who: "CloudWatch".into(),
                what: format!("alarm {} went to {}", a.name, a.state.label()),
                resource: a.resource.clone().unwrap_or_default(),
                read_only: false,
                deployment: false,
                error: (a.state == AlarmState::Alarm).then(|| a.reason.clone()),
            });
        }
    }
    out
}

/// `req-42-alice` sessions named by the person who asked for request 42.
pub async fn name_people(state: &AppState, changes: &mut [Change]) {
    // By the whole session name: `req-42-evil` is not request 42's session `req-42-alice`.
    let mut known: HashMap<String, Option<String>> = HashMap::new();
    for c in changes.iter_mut() {
        let Some(id) = c
            .who
            .strip_prefix("req-")
            .and_then(|r| r.split('-').next())
            .and_then(|n| n.parse::<i64>().ok())
        else {
            continue;
        };
        if let std::collections::hash_map::Entry::Vacant(slot) = known.entry(c.who.clone()) {
            let person = match state.store.access_grant(id).await {
                Ok(Some(g)) if g.session_name == c.who => {
                    state.store.access_get(id).await.ok().flatten().map(|r| r.requester)
                }
                _ => None,
            };
            slot.insert(person);
        }
        if let Some(Some(person)) = known.get(&c.who) {
            c.who = format!("{person} ({})", c.who);
        }
    }
}

/// Grants, rollbacks and incidents of the environment recorded by this console in [from, to).
async fn console(state: &AppState, env: &str, from: i64, to: i64) -> Result<Vec<Change>, AppError> {
    let change = |at: i64, who: &str, what: String, resource: &str, deployment: bool| Change {
        id: String::new(),
        at_ms: at,
        source: ChangeSource::Console,
        who: who.to_string(),
        what,
        resource: resource.to_string(),
        read_only: false,
        deployment,
        error: None,
    };
    let within = |t: i64| (from..to).contains(&t);
    let mut out = Vec::new();
    for r in state.store.rollback_list(env, "", None).await? {
        if let (Some(at), Some(by)) = (r.confirmed_ms, &r.confirmed_by)
            && within(at)
        {
            out.push(change(
                at,
                by,
                format!(
                    "rollback {} confirmed: {} → {} (asked by {})",
                    r.id, r.from_task_definition, r.to_task_definition, r.requested_by
                ),
                &r.service,
                true,
            ));
        }
    }
    let requests: Vec<_> = state
        .store
        .access_list(500)
        .await?
        .into_iter()
        .filter(|r| r.environment == env)
        .collect();
    let ids: Vec<i64> = requests.iter().map(|r| r.id).collect();
    let grants = state.store.access_grants_for(&ids).await?;
    for g in grants.iter().filter(|g| within(g.issued_ms)) {
        if let Some(r) = requests.iter().find(|r| r.id == g.request_id) {
            out.push(change(
                g.issued_ms,
                &r.requester,
                format!("access {} granted ({}, session {})", r.id, r.profile, g.session_name),
                &g.role_arn,
                false,
            ));
        }
    }
    for r in &requests {
        if let Some(at) = r.ended_ms.filter(|t| within(*t))
            && grants.iter().any(|g| g.request_id == r.id)
        {
            let by = if r.ended_by.is_empty() {
                "the console"
            } else {
                &r.ended_by
            };
            out.push(change(
                at,
                by,
                format!("access {} {}", r.id, r.status.label()),
                &r.profile,
                false,
            ));
        }
    }
    for i in state.store.incident_list(500).await? {
        if i.environment != env {
            continue;
        }
        if within(i.started_ms) {
            out.push(change(
                i.started_ms,
                &i.declared_by,
                format!("incident {} declared ({}): {}", i.id, i.severity.label(), i.title),
                "",
                false,
            ));
        }
        if let Some(at) = i.resolved_ms.filter(|t| within(*t)) {
            out.push(change(
                at,
                &i.commander,
                format!("incident {} resolved", i.id),
                "",
                false,
            ));
        }
    }
    Ok(out)
}
