//! The guarded rollback: a responder asks (`request_rollback`), someone else confirms
//! (`confirm_rollback`), then the console calls UpdateService as the operator role.

use super::policy::{
    check_controller, check_incident, check_target, controller_refusal, grant_counts, incident_still_open, may_confirm,
    may_request,
};
use super::present::rollback_view;
use super::queries::find_service;
use crate::error::AppError;
use crate::model::{RollbackStatus, RollbackView};
use crate::ssr::audit::NewAuditEntry;
use crate::ssr::auth::Caller;
use crate::ssr::cloud::short_taskdef as short;
use crate::ssr::kernel::clock::now;
use crate::ssr::kernel::effects::entry;
use crate::ssr::kernel::input::{ClusterName, Reason, Revision, ServiceName};
use crate::ssr::state::AppState;
use crate::ssr::store::{Effects, RollbackRecord, UPDATE_SENT};

/// A rollback asked for, its input checked. `incident_id` 0: not linked to an incident.
pub struct RollbackRequest {
    pub environment: String,
    pub cluster: ClusterName,
    pub service: ServiceName,
    pub to: Revision,
    pub incident_id: i64,
    pub reason: Reason,
}

fn rollback_audit(caller: &Caller, action: &str, id: i64, detail: serde_json::Value) -> NewAuditEntry {
    crate::ssr::kernel::effects::audit(&caller.subject, action, &format!("rollback:{id}"), detail)
}

/// Step one of two: a responder asks; someone else confirms (`confirm_rollback`), or the
/// requester's own grant does when its profile allows rollback and another person approved it.
pub async fn request_rollback(state: &AppState, caller: &Caller, q: RollbackRequest) -> Result<i64, AppError> {
    may_request(caller)?;
    let meta = state
        .environment(q.environment.trim())
        .ok_or_else(|| AppError::Invalid(format!("environment: no environment \"{}\"", q.environment.trim())))?
        .clone();
    let (cluster, service) = (q.cluster.into_string(), q.service.into_string());
    let (reason, to) = (q.reason.into_string(), q.to.into_string());
    let cloud = state.cloud(&meta);
    if let Some(why) = cloud.rollback_off(&meta.name) {
        return Err(AppError::Invalid(format!("rollback is off: {why}")));
    }
    let incident = if q.incident_id > 0 {
        Some(
            state
                .store
                .incident_get(q.incident_id)
                .await?
                .ok_or_else(|| AppError::NotFound(format!("incident {}", q.incident_id)))?,
        )
    } else {
        None
    };
    check_incident(&meta.name, meta.tier, incident.as_ref())?;
    let incident_id = incident.map(|i| i.id);
    // Only a service of this environment (its inventory, narrowed by its selector).
    let inv = cloud.inventory(&meta.name, now()).await?;
    if let Some(n) = inv.notes.iter().find(|n| n.part == "scope") {
        return Err(AppError::Unavailable(format!("rollback waits: {}", n.message)));
    }
    if find_service(&inv, &cluster, &service).is_none() {
        let notes: Vec<String> = inv.notes.iter().map(|n| format!("{}: {}", n.part, n.message)).collect();
        return Err(AppError::Invalid(format!(
            "service: {cluster}/{service} is not in the inventory of {}{}",
            meta.name,
            if notes.is_empty() {
                String::new()
            } else {
                format!(" (read with problems: {})", notes.join("; "))
            }
        )));
    }
    let svc = cloud.service_now(&meta.name, &cluster, &service).await?;
    check_controller(&cluster, &service, svc.controller)?;
    let to_arn = cloud
        .task_definition_arn(&meta.name, &to)
        .await
        .map_err(|e| AppError::Invalid(format!("to: {e}")))?;
    check_target(&svc.task_definition, &to_arn)?;
    let t = now();
    let rec = RollbackRecord {
        id: 0,
        environment: meta.name.clone(),
        cluster: cluster.clone(),
        service: service.clone(),
        from_task_definition: svc.task_definition.clone(),
        to_task_definition: to_arn.clone(),
        incident_id,
        reason: reason.clone(),
        requested_by: caller.subject.clone(),
        requested_ms: t,
        confirmed_by: None,
        confirmed_ms: None,
        status: RollbackStatus::Pending,
        progress: "waiting for a second person to confirm".into(),
        finished_ms: None,
    };
    let busy = format!("a rollback of {cluster}/{service} is already pending or in progress");
    let who = caller.clone();
    let detail = serde_json::json!({"environment": rec.environment, "cluster": rec.cluster, "service": rec.service,
        "from": rec.from_task_definition, "to": rec.to_task_definition, "incident": incident_id,
        "reason": rec.reason});
    let id = state
        .store
        .rollback_create(
            &rec,
            Box::new(move |id| Effects {
                entries: incident_id
                    .map(|i| {
                        entry(
                            i,
                            t,
                            "rollback",
                            &who.subject,
                            format!(
                                "Rollback #{id} of {cluster}/{service} to {} requested: {reason} (needs a second person)",
                                short(&to_arn)
                            ),
                        )
                    })
                    .into_iter()
                    .collect(),
                outbox: vec![],
                audit: vec![rollback_audit(&who, "rollback.request", id, detail)],
            }),
        )
        .await?
        .ok_or(AppError::Conflict(busy))?;
    // A grant of the requester stands in for the second person only when another person approved
    // it for this (its profile allows rollback; never an emergency grant): confirmed at once, in
    // the grant's name.
    if let Some(grant) = second_key_grant(state, &caller.subject, &meta.name).await? {
        let as_grant = Caller {
            subject: format!("grant:access-{grant}"),
            ..caller.clone()
        };
        confirm_inner(state, &as_grant, id).await?;
    }
    Ok(id)
}

/// The requester's grant in `env` that counts as the second key of their rollback, if any.
async fn second_key_grant(state: &AppState, requester: &str, env: &str) -> Result<Option<i64>, AppError> {
    for g in crate::ssr::access::active_grants(state, requester, env).await? {
        let approvals = state.store.access_approvals(g.id).await?;
        let mut holder = std::collections::HashSet::new();
        for a in &approvals {
            if same_person(state, &a.approver, requester).await? {
                holder.insert(a.approver.clone());
            }
        }
        let profile = crate::ssr::access::profile(state, env, &g.profile);
        if grant_counts(&g, profile.as_ref(), &approvals, |approver, _| {
            holder.contains(approver)
        }) {
            return Ok(Some(g.id));
        }
    }
    Ok(None)
}

/// Are two subjects one person (the two-person rule): the same subject, an API token and its
/// creator, or two accounts with one verified email.
async fn same_person(state: &AppState, a: &str, b: &str) -> Result<bool, AppError> {
    crate::ssr::auth::same_person(&*state.store, a, b).await
}

/// Step two: another person (responder or approver) confirms, then the console calls
/// UpdateService as the operator role. The requester never confirms their own, by any route.
pub async fn confirm_rollback(state: &AppState, caller: &Caller, id: i64) -> Result<RollbackView, AppError> {
    may_confirm(caller)?;
    let r = state
        .store
        .rollback_get(id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("rollback {id}")))?;
    if same_person(state, &r.requested_by, &caller.subject).await? {
        return Err(AppError::Forbidden(
            "two-person rule: the person who asked for a rollback cannot confirm it".into(),
        ));
    }
    confirm_inner(state, caller, id).await
}

async fn confirm_inner(state: &AppState, caller: &Caller, id: i64) -> Result<RollbackView, AppError> {
    let r = state
        .store
        .rollback_get(id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("rollback {id}")))?;
    if r.status != RollbackStatus::Pending {
        return Err(AppError::Conflict(format!(
            "rollback {id} is {}, not pending",
            r.status.label()
        )));
    }
    let meta = state
        .environment(&r.environment)
        .ok_or_else(|| AppError::NotFound(format!("environment {}", r.environment)))?
        .clone();
    // A prod rollback needs its incident open still when it is confirmed.
    let incident = match r.incident_id {
        Some(i) => state.store.incident_get(i).await?,
        None => None,
    };
    if !incident_still_open(meta.tier, incident.as_ref()) {
        let why = format!(
            "its incident is no longer open, and a rollback in the prod environment {} needs one",
            meta.name
        );
        end_pending(state, &r, RollbackStatus::Failed, &why).await?;
        return Err(AppError::Conflict(format!("rollback {id} ended: {why}")));
    }
    // What the service runs now must still be what the rollback was asked from (a pending
    // rollback confirmed later must not put back an old revision over a newer deploy).
    let cloud = state.cloud(&meta);
    if let Some(why) = cloud.rollback_off(&meta.name) {
        return Err(AppError::Invalid(format!("rollback is off: {why}")));
    }
    let svc = cloud.service_now(&r.environment, &r.cluster, &r.service).await?;
    if let Some(why) = controller_refusal(&r.cluster, &r.service, svc.controller) {
        end_pending(state, &r, RollbackStatus::Failed, &why).await?;
        return Err(AppError::Conflict(format!("rollback {id} ended: {why}")));
    }
    if svc.task_definition != r.from_task_definition
        || check_target(&svc.task_definition, &r.to_task_definition).is_err()
    {
        let why = format!(
            "the service now runs {}, not {} as when it was asked; ask again",
            short(&svc.task_definition),
            short(&r.from_task_definition)
        );
        end_pending(state, &r, RollbackStatus::Failed, &why).await?;
        return Err(AppError::Conflict(format!("rollback {id} ended: {why}")));
    }
    let t = now();
    let line = format!(
        "Rollback #{id} of {}/{} to {} confirmed by {} (asked by {}); UpdateService sent",
        r.cluster,
        r.service,
        short(&r.to_task_definition),
        caller.subject,
        r.requested_by
    );
    let effects = Effects {
        entries: r
            .incident_id
            .map(|i| entry(i, t, "rollback", &caller.subject, line))
            .into_iter()
            .collect(),
        outbox: vec![],
        audit: vec![rollback_audit(
            caller,
            "rollback.confirm",
            id,
            serde_json::json!({"requested_by": r.requested_by, "to": r.to_task_definition}),
        )],
    };
    // Recorded (and audited) before AWS is asked; a second confirm loses the race here.
    let ok = state.store.rollback_confirm(id, &caller.subject, t, effects).await?;
    if !ok {
        return Err(AppError::Conflict(format!(
            "rollback {id} was confirmed or ended meanwhile"
        )));
    }
    if let Err(e) = state
        .cloud(&meta)
        .rollback(&r.environment, &r.cluster, &r.service, &r.to_task_definition)
        .await
    {
        let msg = format!("UpdateService failed: {e}");
        let effects = Effects {
            entries: r
                .incident_id
                .map(|i| {
                    entry(
                        i,
                        now(),
                        "rollback",
                        "ops-console",
                        format!("Rollback #{id} failed: {e}"),
                    )
                })
                .into_iter()
                .collect(),
            outbox: vec![],
            audit: vec![crate::ssr::kernel::effects::audit_outcome(
                "ops-console",
                "rollback.failed",
                &format!("rollback:{id}"),
                "failed",
                serde_json::json!({"error": e.to_string()}),
            )],
        };
        let _ = state
            .store
            .rollback_finish(id, RollbackStatus::Failed, &msg, now(), effects)
            .await;
        return Err(AppError::Unavailable(msg));
    }
    // From here the rollback job may look at the service: what it reads is after the update.
    // The update is made either way; if this write fails, the job looks anyway once
    // `watch::UPDATE_IN_FLIGHT_MS` has passed.
    if let Err(e) = state.store.rollback_progress(id, UPDATE_SENT).await {
        tracing::warn!(error = %e, id, "rollback: could not record that UpdateService was sent");
    }
    let r = state
        .store
        .rollback_get(id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("rollback {id}")))?;
    Ok(rollback_view(&r))
}

/// Ends a pending rollback that can no longer go ahead (its incident closed, the service moved
/// on, nobody confirmed in time), so that it does not block the next one.
pub(super) async fn end_pending(
    state: &AppState,
    r: &RollbackRecord,
    status: RollbackStatus,
    why: &str,
) -> Result<(), AppError> {
    let t = now();
    let effects = Effects {
        entries: r
            .incident_id
            .map(|i| {
                entry(
                    i,
                    t,
                    "rollback",
                    "ops-console",
                    format!("Rollback #{} ended: {why}", r.id),
                )
            })
            .into_iter()
            .collect(),
        outbox: vec![],
        audit: vec![crate::ssr::kernel::effects::audit_outcome(
            "ops-console",
            if status == RollbackStatus::TimedOut {
                "rollback.timed_out"
            } else {
                "rollback.failed"
            },
            &format!("rollback:{}", r.id),
            "failed",
            serde_json::json!({"error": why, "was": "pending"}),
        )],
    };
    state.store.rollback_finish(r.id, status, why, t, effects).await?;
    Ok(())
}
