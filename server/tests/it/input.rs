//! Input that reaches access requests and decisions: the ticket is bounded even where a profile's
//! pattern would match more, and a comment cannot hide a direction override.

use crate::common::spawn_app;

/// The demo profile `prod-readonly` asks for `^(INC|CHG)-[0-9]+$`: that pattern alone admitted a
/// ticket of any length, and an unanchored one would admit any text around a match.
#[tokio::test]
async fn the_ticket_is_bounded_and_matched_whole_when_a_profile_has_a_pattern() {
    let app = spawn_app().await;
    let alice = app.session_as("alice", "responder").await;
    let ask = |ticket: &str| {
        let app = &app;
        let alice = alice.clone();
        let ticket = ticket.to_string();
        async move {
            let form = [
                ("environment", "taskflow-production"),
                ("profile", "prod-readonly"),
                ("reason", "read the orders table"),
                ("minutes", "30"),
                ("ticket", ticket.as_str()),
            ];
            app.call_as(&alice, "access/request", &form).await
        }
    };
    let (s, body) = ask(&format!("INC-{}", "9".repeat(100_000))).await;
    assert_eq!(s, 422, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("ticket: at most 64"),
        "{body}"
    );
    let (s, body) = ask("INC-42\u{202E}").await;
    assert_eq!(s, 422, "{body}");
    assert!(
        body["message"].as_str().unwrap_or_default().contains("U+202E"),
        "{body}"
    );
    let (s, body) = ask("INC-42").await;
    assert_eq!(s, 200, "{body}");
    let all = app.state.store.access_list(10).await.expect("requests");
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].ticket, "INC-42");
}

/// An approver's comment (and a requester's reason) with a bidi override is refused, naming it.
#[tokio::test]
async fn a_reason_with_a_direction_override_is_refused() {
    let app = spawn_app().await;
    let alice = app.session_as("alice", "responder").await;
    let (s, body) = app
        .call_as(
            &alice,
            "access/request",
            &[
                ("environment", "taskflow-production"),
                ("profile", "prod-readonly"),
                ("reason", "read only \u{202E}etirw dna"),
                ("minutes", "30"),
                ("ticket", "INC-1"),
            ],
        )
        .await;
    assert_eq!(s, 422, "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("reason:") && message.contains("U+202E"),
        "{message}"
    );
}
