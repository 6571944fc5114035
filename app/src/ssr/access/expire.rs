//! The access job step: requests and grants end on time, whether or not anyone is looking.

use crate::model::AccessStatus;
use crate::ssr::audit::NewAuditEntry;
use crate::ssr::kernel::clock::now;
use crate::ssr::kernel::effects::entry;
use crate::ssr::state::AppState;
use crate::ssr::store::{AccessChange, Effects};

/// The expiry job: pending requests past `pending_expiry_minutes` time out; approved ones whose
/// window ended unused expire; active grants past their credentials' expiry expire.
pub async fn expire_due(state: &AppState) {
    let t = now();
    let Ok(open) = state
        .store
        .access_in_status(&[
            AccessStatus::Pending,
            AccessStatus::Approved,
            AccessStatus::Activating,
            AccessStatus::Active,
        ])
        .await
    else {
        tracing::warn!("access expiry: cannot list open requests");
        return;
    };
    for r in open {
        let grant = if r.status == AccessStatus::Active {
            state.store.access_grant(r.id).await.ok().flatten()
        } else {
            None
        };
        // The same rule the pages show (`AccessStatus::effective`): what it says has ended, ends.
        let ended = super::present::effective_status(&r, grant.as_ref(), t);
        if ended == r.status {
            continue;
        }
        let why = match r.status {
            AccessStatus::Pending => "no decision in time",
            AccessStatus::Active => "the credentials expired",
            _ => "the window ended unused",
        };
        let to = ended.label();
        let line = format!(
            "Access #{} ({} on {}) {}: {why}",
            r.id,
            r.profile,
            r.environment,
            to.replace('_', " ")
        );
        let effects = Effects {
            entries: r
                .incident_id
                .map(|i| entry(i, t, "access", "ops-console", line))
                .into_iter()
                .collect(),
            outbox: vec![],
            audit: vec![NewAuditEntry::new(
                "ops-console",
                &format!("access.{to}"),
                &format!("access:{}", r.id),
                "ok",
                serde_json::json!({"why": why}),
            )],
        };
        if let Err(e) = state
            .store
            .access_transition(r.id, &[r.status], ended, vec![AccessChange::EndedMs(t)], t, effects)
            .await
        {
            tracing::warn!(error = %e, id = r.id, "access expiry: could not record");
        }
    }
}
