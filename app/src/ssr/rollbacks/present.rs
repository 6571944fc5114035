//! Rollback records as the API shows them.

use crate::model::RollbackView;
use crate::ssr::cloud::short_taskdef as short;
use crate::ssr::store::RollbackRecord;

pub fn rollback_view(r: &RollbackRecord) -> RollbackView {
    RollbackView {
        id: r.id,
        environment: r.environment.clone(),
        cluster: r.cluster.clone(),
        service: r.service.clone(),
        from_task_definition: short(&r.from_task_definition),
        to_task_definition: short(&r.to_task_definition),
        incident_id: r.incident_id,
        reason: r.reason.clone(),
        requested_by: r.requested_by.clone(),
        requested_ms: r.requested_ms,
        confirmed_by: r.confirmed_by.clone(),
        confirmed_ms: r.confirmed_ms,
        status: r.status,
        progress: r.progress.clone(),
        finished_ms: r.finished_ms,
    }
}
