//! The guarded rollback: a responder asks (`request_rollback`), someone else confirms
//! (`confirm_rollback`), then the console calls UpdateService as the operator role.

use super::policy::may_confirm;
use super::present::rollback_view;
use crate::error::AppError;
use crate::model::{Role, RollbackStatus, RollbackView};
use crate::ssr::audit::NewAuditEntry;
use crate::ssr::auth::Caller;
use crate::ssr::cloud::short_taskdef as short;
use crate::ssr::kernel::clock::now;
use crate::ssr::kernel::effects::entry;
use crate::ssr::kernel::input::{ClusterName, Reason, Revision, ServiceName};
use crate::ssr::state::AppState;
use crate::ssr::store::{Effects, RollbackRecord};

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

/// Step one of two: a responder asks; someone else confirms (`confirm_rollback`).
pub async fn request_rollback(state: &AppState, caller: &Caller, q: RollbackRequest) -> Result<i64, AppError> {
    caller.require(Role::Responder)?;
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
    let incident_id = if q.incident_id > 0 {
        let i = state
            .store
            .incident_get(q.incident_id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("incident {}", q.incident_id)))?;
        if i.environment != meta.name {
            return Err(AppError::Invalid(format!(
                "incident: incident {} is in {}, not {}",
                i.id, i.environment, meta.name
            )));
        }
        Some(i.id)
    } else {
        None
    };
    let svc = cloud.service_now(&meta.name, &cluster, &service).await?;
    let to_arn = cloud
        .task_definition_arn(&meta.name, &to)
        .await
        .map_err(|e| AppError::Invalid(format!("to: {e}")))?;
    if to_arn == svc.task_definition {
        return Err(AppError::Invalid(format!(
            "to: the service already runs {}",
            short(&to_arn)
        )));
    }
    let pending = state.store.rollback_list(&meta.name, &service, None).await?;
    if pending.iter().any(|r| r.cluster == cluster && r.status.is_open()) {
        return Err(AppError::Conflict(format!(
            "a rollback of {cluster}/{service} is already pending or in progress"
        )));
    }
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
        .await?;
    // An active break-glass grant for the environment held by the requester stands in for the
    // second person: confirmed at once, in the grant's name.
    if let Some(grant) = crate::ssr::access::active_grant(state, &caller.subject, &meta.name).await? {
        let as_grant = Caller {
            subject: format!("grant:access-{grant}"),
            ..caller.clone()
        };
        confirm_inner(state, &as_grant, id).await?;
    }
    Ok(id)
}

/// Step two: another responder or an approver confirms, then the console calls UpdateService as
/// the operator role. The requester never confirms their own.
pub async fn confirm_rollback(state: &AppState, caller: &Caller, id: i64) -> Result<RollbackView, AppError> {
    if !may_confirm(caller) {
        return Err(AppError::Forbidden(
            "confirming a rollback needs the responder or approver role".into(),
        ));
    }
    let r = state
        .store
        .rollback_get(id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("rollback {id}")))?;
    if r.requested_by == caller.subject {
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
    let r = state
        .store
        .rollback_get(id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("rollback {id}")))?;
    Ok(rollback_view(&r))
}
