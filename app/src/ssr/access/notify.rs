//! The Slack messages of access requests and the approval link.

use crate::ssr::state::AppState;
use crate::ssr::store::{AccessRequestRecord, NewOutbox};

pub fn slack_message(
    state: &AppState,
    r: &AccessRequestRecord,
    headline: &str,
    body: &str,
    link: &str,
    key: String,
) -> NewOutbox {
    let demo = state.environment(&r.environment).is_some_and(|e| e.demo);
    let headline = format!("{}{headline}", if demo { "[demo] " } else { "" });
    let fields = [
        ("Requester", r.requester.clone()),
        ("Environment / profile", format!("{} / {}", r.environment, r.profile)),
        ("Duration", format!("{} min", r.duration_minutes)),
        (
            "Ticket / incident",
            match (r.ticket.as_str(), r.incident_id) {
                ("", None) => "-".to_string(),
                (t, None) => t.to_string(),
                ("", Some(i)) => format!("incident #{i}"),
                (t, Some(i)) => format!("{t}, incident #{i}"),
            },
        ),
    ];
    let text = if body.is_empty() {
        format!("Reason: {}", r.reason)
    } else {
        body.to_string()
    };
    let msg = crate::ssr::slack::message(&headline, &fields, &text, "Open the request", link);
    crate::ssr::kernel::effects::outbox(key, &r.environment, &msg)
}

pub fn request_link(state: &AppState, id: i64) -> String {
    format!("{}/access/requests/{id}", state.config.base_url())
}

/// The approval link of a request (what Slack got), for the request's page and tests.
pub fn link_for(state: &AppState, r: &AccessRequestRecord) -> String {
    let token = crate::ssr::links::sign(&state.link_key(), r.id, r.pending_until_ms);
    format!("{}?t={token}", request_link(state, r.id))
}
