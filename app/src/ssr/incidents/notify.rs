//! The Slack message of an incident event.

use crate::ssr::state::AppState;
use crate::ssr::store::{IncidentRecord, NewOutbox};

/// The Slack message of an incident event, queued in the outbox with `key` as idempotency key.
pub fn slack(state: &AppState, r: &IncidentRecord, headline: &str, body: &str, key: String) -> NewOutbox {
    let link = format!("{}/incidents/{}", state.config.base_url(), r.id);
    let demo = state.environment(&r.environment).is_some_and(|e| e.demo);
    let headline = format!(
        "{}SEV{} {headline}: {}",
        if demo { "[demo] " } else { "" },
        r.severity.number(),
        r.title
    );
    let fields = [
        ("Environment", r.environment.clone()),
        ("Status", r.status.label().to_string()),
        (
            "Commander",
            if r.commander.is_empty() {
                "unassigned".into()
            } else {
                r.commander.clone()
            },
        ),
        ("Incident", format!("#{}", r.id)),
    ];
    let msg = crate::ssr::slack::message(&headline, &fields, body, "Open the timeline", &link);
    crate::ssr::kernel::effects::outbox(key, &r.environment, &msg)
}
