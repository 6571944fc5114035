//! Builders for the effects an action writes in its own transaction: timeline entries, audit
//! entries and outbox messages.

use crate::ssr::audit::NewAuditEntry;
use crate::ssr::store::{NewOutbox, NewTimelineEntry};

/// A timeline entry of incident `incident_id` at `at_ms`.
pub fn entry(incident_id: i64, at_ms: i64, kind: &str, actor: &str, text: String) -> NewTimelineEntry {
    NewTimelineEntry {
        incident_id,
        at_ms,
        kind: kind.into(),
        actor: actor.into(),
        text,
        detail: "{}".into(),
        dedupe_key: None,
    }
}

/// An audit entry of `actor` doing `action` on `target` ("incident:7"), with the request id.
pub fn audit(actor: &str, action: &str, target: &str, detail: serde_json::Value) -> NewAuditEntry {
    audit_outcome(actor, action, target, "ok", detail)
}

/// The same with another outcome ("failed", "refused").
pub fn audit_outcome(
    actor: &str,
    action: &str,
    target: &str,
    outcome: &str,
    detail: serde_json::Value,
) -> NewAuditEntry {
    NewAuditEntry::new(actor, action, target, outcome, detail)
        .with_request_id(&crate::ssr::kernel::request::request_id())
}

/// A Slack message for `environment`'s webhook, queued in the outbox; `key` is its idempotency
/// key (the same message written twice is stored once).
pub fn outbox(key: String, environment: &str, message: &serde_json::Value) -> NewOutbox {
    NewOutbox {
        idempotency_key: key,
        environment: environment.to_string(),
        payload: message.to_string(),
    }
}
