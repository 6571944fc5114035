//! The rollback job step: watch each rolling rollback until it is stable or times out, and end
//! the pending ones nobody confirmed in time.

use crate::model::RollbackStatus;
use crate::ssr::audit::NewAuditEntry;
use crate::ssr::cloud::short_taskdef as short;
use crate::ssr::kernel::clock::now;
use crate::ssr::kernel::effects::entry;
use crate::ssr::state::AppState;
use crate::ssr::store::{Effects, RollbackRecord, UPDATE_BEING_SENT};

/// How long the job leaves a rollback alone while its UpdateService is in flight: longer than
/// the SDK takes to give up on a call with its retries.
pub const UPDATE_IN_FLIGHT_MS: i64 = 120_000;

/// One look at a rolling rollback (the rollback job): stable → done; past the timeout → timed out
/// with what was seen; else the progress is updated.
pub async fn watch_rollback(state: &AppState, r: &RollbackRecord) {
    let Some(meta) = state.environment(&r.environment).cloned() else {
        return;
    };
    let t = now();
    let timeout_ms = i64::from(state.config.jobs.rollback_timeout_minutes) * 60_000;
    // While its confirmer waits for UpdateService, a read would show the service as it was
    // before and report that as the rollback's progress. Not for longer than a call can take:
    // after that (the confirmer's replica died, or its write of "sent" failed) it is watched.
    let in_flight = UPDATE_IN_FLIGHT_MS.min(timeout_ms);
    if r.progress == UPDATE_BEING_SENT && t - r.confirmed_ms.unwrap_or(r.requested_ms) <= in_flight {
        return;
    }
    let seen = state
        .cloud(&meta)
        .service_now(&r.environment, &r.cluster, &r.service)
        .await;
    let (done, status, progress) = match &seen {
        Ok(s) if s.stable_on(&r.to_task_definition) => (
            true,
            RollbackStatus::Stable,
            format!(
                "stable on {}: {} of {} tasks running",
                short(&r.to_task_definition),
                s.running,
                s.desired
            ),
        ),
        Ok(s) => {
            let seen = format!(
                "{} deployment(s) [{}]; service on {}; {} of {} tasks running",
                s.deployments.len(),
                s.deployments
                    .iter()
                    .map(|d| format!(
                        "{} {} {}/{} {}",
                        d.status,
                        d.task_definition,
                        d.running,
                        d.desired,
                        d.rollout_state.as_deref().unwrap_or("")
                    ))
                    .collect::<Vec<_>>()
                    .join(", "),
                short(&s.task_definition),
                s.running,
                s.desired
            );
            let timed_out = t - r.confirmed_ms.unwrap_or(r.requested_ms) > timeout_ms;
            (timed_out, RollbackStatus::TimedOut, seen)
        }
        Err(e) => {
            let timed_out = t - r.confirmed_ms.unwrap_or(r.requested_ms) > timeout_ms;
            (
                timed_out,
                RollbackStatus::TimedOut,
                format!("the service could not be read: {e}"),
            )
        }
    };
    if !done {
        let _ = state.store.rollback_progress(r.id, &progress).await;
        return;
    }
    let line = match status {
        RollbackStatus::Stable => format!("Rollback #{} of {}/{}: {progress}", r.id, r.cluster, r.service),
        _ => format!(
            "Rollback #{} of {}/{} not stable after {} min; last seen: {progress}",
            r.id, r.cluster, r.service, state.config.jobs.rollback_timeout_minutes
        ),
    };
    let effects = Effects {
        entries: r
            .incident_id
            .map(|i| entry(i, t, "rollback", "ops-console", line))
            .into_iter()
            .collect(),
        outbox: vec![],
        audit: vec![NewAuditEntry::new(
            "ops-console",
            &format!("rollback.{}", status.label()),
            &format!("rollback:{}", r.id),
            if status == RollbackStatus::Stable {
                "ok"
            } else {
                "failed"
            },
            serde_json::json!({"progress": progress}),
        )],
    };
    if let Err(e) = state.store.rollback_finish(r.id, status, &progress, t, effects).await {
        tracing::warn!(error = %e, id = r.id, "rollback: could not record the outcome");
    }
}

/// One round of the rollback job: look at every rolling rollback.
pub async fn watch_all(state: &AppState) {
    match state.store.rollback_list("", "", None).await {
        Ok(all) => {
            for r in all.iter().filter(|r| r.status == RollbackStatus::Rolling) {
                watch_rollback(state, r).await;
            }
            // A request nobody confirmed within the time an access request waits for its
            // decision ends, so that it neither blocks the next rollback nor is confirmed stale.
            let wait_ms = i64::from(state.config.access.pending_expiry_minutes) * 60_000;
            let t = now();
            for r in all
                .iter()
                .filter(|r| r.status == RollbackStatus::Pending && t - r.requested_ms > wait_ms)
            {
                let why = format!(
                    "nobody confirmed it within {} minutes",
                    state.config.access.pending_expiry_minutes
                );
                if let Err(e) = super::commands::end_pending(state, r, RollbackStatus::TimedOut, &why).await {
                    tracing::warn!(error = %e, id = r.id, "rollback watch: cannot end a stale request");
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "rollback watch: cannot list rollbacks"),
    }
}
