//! Incidents over HTTP as people and scripts use them: declare (responder only), legal and
//! illegal status moves, notes in order, the Markdown and JSON exports, the post-mortem rule,
//! Slack messages through the outbox while the receiver refuses the first attempts.

use crate::common::{SlackReceiver, eventually, spawn_app_with};
use serde_json::Value;
use std::time::Duration;

fn kinds_and_texts(view: &Value) -> Vec<(String, String)> {
    view["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap_or_default().to_string(),
                e["text"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn declare_work_resolve_and_export_with_slack_down_at_first() {
    let slack = SlackReceiver::start(2).await;
    let dir = tempfile::tempdir().expect("dir");
    let hook = slack.url_file(dir.path());
    let app = spawn_app_with(&format!(
        "public_url = \"{{APP}}\"\n[slack]\nwebhook_url_file = \"{}\"\n[jobs]\noutbox_seconds = 1\nalarm_poll_seconds = 1\n",
        hook.display()
    ))
    .await;
    let alice = app.session_as("alice", "responder").await;
    let dave = app.session_as("dave", "viewer").await;

    // A viewer cannot declare; bad input is named.
    let declare = [
        ("environment", "taskflow-production"),
        ("title", "API 5xx above 1%"),
        ("severity", "1"),
        ("services", "taskflow-production/taskflow-api"),
        ("ticket", "INC-1234"),
    ];
    let (s, body) = app.call_as(&dave, "incidents/declare", &declare).await;
    assert_eq!(s, 403, "{body}");
    let (s, body) = app
        .call_as(
            &alice,
            "incidents/declare",
            &[
                ("environment", "taskflow-production"),
                ("title", "x"),
                ("severity", "7"),
            ],
        )
        .await;
    assert_eq!(s, 422, "{body}");
    assert!(body.to_string().contains("severity"), "{body}");
    let (s, body) = app
        .call_as(
            &alice,
            "incidents/declare",
            &[("environment", "nowhere"), ("title", "x"), ("severity", "2")],
        )
        .await;
    assert_eq!(s, 422, "{body}");

    let (s, id) = app.call_as(&alice, "incidents/declare", &declare).await;
    assert_eq!(s, 200, "{id}");
    let id = id.as_i64().expect("id").to_string();

    // Illegal moves are refused and change nothing.
    let (s, body) = app
        .call_as(&alice, "incidents/status", &[("id", &id), ("to", "mitigated")])
        .await;
    assert_eq!(s, 422, "{body}");
    assert!(
        body.to_string().contains("cannot go from triggered to mitigated"),
        "{body}"
    );
    let (s, _) = app
        .call_as(&alice, "incidents/status", &[("id", &id), ("to", "closed")])
        .await;
    assert_eq!(s, 422);
    let (s, _) = app
        .call_as(&dave, "incidents/status", &[("id", &id), ("to", "acknowledged")])
        .await;
    assert_eq!(s, 403);

    // Work it: acknowledge, a note, investigating, an update, resolve.
    for (endpoint, form) in [
        ("incidents/status", vec![("id", id.as_str()), ("to", "acknowledged")]),
        (
            "incidents/note",
            vec![("id", id.as_str()), ("text", "5xx from one AZ only")],
        ),
        (
            "incidents/status",
            vec![
                ("id", id.as_str()),
                ("to", "investigating"),
                ("note", "looking at the last deploy"),
            ],
        ),
        (
            "incidents/note",
            vec![
                ("id", id.as_str()),
                ("kind", "update"),
                ("text", "customers see errors on save"),
            ],
        ),
        (
            "incidents/status",
            vec![("id", id.as_str()), ("to", "resolved"), ("note", "rolled forward")],
        ),
    ] {
        let (s, body) = app.call_as(&alice, endpoint, &form).await;
        assert_eq!(s, 200, "{endpoint} {form:?}: {body}");
    }

    let (s, view) = app.call_as(&dave, "incidents/get", &[("id", &id)]).await;
    assert_eq!(s, 200, "{view}");
    assert_eq!(view["incident"]["status"], "resolved");
    assert!(
        view["incident"]["acknowledged_ms"].is_i64(),
        "acknowledged time recorded"
    );
    let entries = kinds_and_texts(&view);
    let order: Vec<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        order,
        vec!["declared", "status", "note", "status", "update", "status"],
        "{entries:?}"
    );
    assert!(
        entries[3]
            .1
            .contains("acknowledged → investigating: looking at the last deploy")
    );

    // SEV1: closing needs a post-mortem.
    let (s, body) = app
        .call_as(&alice, "incidents/status", &[("id", &id), ("to", "closed")])
        .await;
    assert_eq!(s, 422, "{body}");
    assert!(body.to_string().contains("post-mortem"), "{body}");
    let draft = view["postmortem_draft"].as_str().expect("draft").to_string();
    assert!(
        draft.contains("## Root cause") && draft.contains("5xx from one AZ only"),
        "{draft}"
    );
    let (s, _) = app
        .call_as(&alice, "incidents/postmortem", &[("id", &id), ("text", &draft)])
        .await;
    assert_eq!(s, 200);
    let (s, body) = app
        .call_as(&alice, "incidents/status", &[("id", &id), ("to", "closed")])
        .await;
    assert_eq!(s, 200, "{body}");
    let (s, _) = app
        .call_as(&alice, "incidents/status", &[("id", &id), ("to", "investigating")])
        .await;
    assert_eq!(s, 422, "closed is final");

    // Markdown export lists the entries in order; JSON round-trips to the same timeline.
    let (s, md) = app
        .call_as(&dave, "incidents/export", &[("id", &id), ("format", "md")])
        .await;
    assert_eq!(s, 200);
    let md = md.as_str().expect("markdown").to_string();
    let at = |needle: &str| md.find(needle).unwrap_or_else(|| panic!("{needle} missing in {md}"));
    assert!(at("Declared SEV1") < at("5xx from one AZ only"));
    assert!(at("5xx from one AZ only") < at("looking at the last deploy"));
    assert!(at("looking at the last deploy") < at("customers see errors on save"));
    assert!(at("customers see errors on save") < at("rolled forward"));
    assert!(md.contains("Demo environment"), "demo data is labelled: {md}");
    let (s, js) = app
        .call_as(&dave, "incidents/export", &[("id", &id), ("format", "json")])
        .await;
    assert_eq!(s, 200);
    let js: Value = serde_json::from_str(js.as_str().expect("json text")).expect("export parses");
    let (_, view) = app.call_as(&dave, "incidents/get", &[("id", &id)]).await;
    assert_eq!(js["timeline"], view["entries"]);
    assert_eq!(js["incident"]["id"], view["incident"]["id"]);

    // Slack refused the first two posts; declare and resolve still arrive, once each, in order.
    let got = eventually(Duration::from_secs(30), || async {
        let m = slack.messages();
        (m.len() >= 2).then_some(m)
    })
    .await
    .expect("the declare and resolve messages were delivered");
    assert!(slack.refused.load(std::sync::atomic::Ordering::SeqCst) >= 2);
    let keys: Vec<&str> = got.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys[0], format!("incident-{id}-declared"));
    assert!(keys[1].starts_with(&format!("incident-{id}-resolved-")), "{keys:?}");
    let declared = &got[0].1;
    assert_eq!(declared["unfurl_links"], false);
    assert!(
        declared.to_string().contains(&format!("{}/incidents/{id}", app.url)),
        "{declared}"
    );
    assert!(declared.to_string().contains("[demo] SEV1 declared"), "{declared}");

    // Every step is in the audit log.
    let carol = app.session_as("carol", "admin").await;
    let (_, audit) = app.call_as(&carol, "audit/list", &[]).await;
    let text = audit.to_string();
    for action in [
        "incident.declare",
        "incident.status",
        "incident.note",
        "incident.update",
        "incident.postmortem",
    ] {
        assert!(text.contains(action), "{action} audited");
    }
}

#[tokio::test]
async fn list_filters_and_time_to_acknowledge() {
    let app = spawn_app_with("").await;
    let alice = app.session_as("alice", "responder").await;
    for (env, sev) in [("taskflow-production", "2"), ("curriculum-alignment-prod", "4")] {
        let (s, body) = app
            .call_as(
                &alice,
                "incidents/declare",
                &[("environment", env), ("title", "slow"), ("severity", sev)],
            )
            .await;
        assert_eq!(s, 200, "{body}");
    }
    let (s, all) = app.call_as(&alice, "incidents/list", &[]).await;
    assert_eq!(s, 200, "{all}");
    let all = all["incidents"].as_array().expect("list");
    assert_eq!(all.len(), 2);
    assert_eq!(all[0]["severity"], 2, "worst first");
    assert_eq!(all[0]["target_minutes"], 30);
    assert_eq!(all[0]["ack_breached"], false);
    let (_, sev4) = app.call_as(&alice, "incidents/list", &[("severity", "4")]).await;
    assert_eq!(sev4["incidents"].as_array().map(Vec::len), Some(1));
    let (_, env) = app
        .call_as(
            &alice,
            "incidents/list",
            &[("environment", "taskflow-production"), ("status", "open")],
        )
        .await;
    assert_eq!(env["incidents"].as_array().map(Vec::len), Some(1));
    let (s, _) = app.call_as(&alice, "incidents/list", &[("status", "sideways")]).await;
    assert_eq!(s, 422);
    let (s, _) = app.call_as(&alice, "incidents/get", &[("id", "999")]).await;
    assert_eq!(s, 404);
}

/// A note with a bare `\r` cannot forge a row of the Markdown export (the `\r` is a line break
/// on input and every cell is escaped), and a title, reason or comment with a direction override
/// or a zero-width character is refused with the character named.
#[tokio::test]
async fn a_note_cannot_forge_export_rows_and_invisible_characters_are_refused() {
    let app = spawn_app_with("").await;
    let alice = app.session_as("alice", "responder").await;
    let (s, id) = app
        .call_as(
            &alice,
            "incidents/declare",
            &[
                ("environment", "taskflow-production"),
                ("title", "API errors"),
                ("severity", "2"),
            ],
        )
        .await;
    assert_eq!(s, 200, "{id}");
    let id = id.as_i64().expect("id").to_string();
    let forged = "checked\r| 2024-01-01 00:00:00 UTC | rollback | carol | approved by carol |";
    let (s, body) = app
        .call_as(&alice, "incidents/note", &[("id", &id), ("text", forged)])
        .await;
    assert_eq!(s, 200, "{body}");
    let (s, md) = app
        .call_as(&alice, "incidents/export", &[("id", &id), ("format", "md")])
        .await;
    assert_eq!(s, 200);
    let md = md.as_str().expect("markdown").to_string();
    // Read as CommonMark does: a bare \r ends a line too.
    let lines: Vec<&str> = md.split(['\n', '\r']).collect();
    assert!(
        !lines.iter().any(|l| l.starts_with("| 2024-01-01")),
        "a forged row: {md:?}"
    );
    let note = lines.iter().find(|l| l.contains("checked")).expect("the note's row");
    assert!(note.contains("checked<br>\\| 2024-01-01"), "{note}");

    for (endpoint, form) in [
        (
            "incidents/declare",
            vec![
                ("environment", "taskflow-production"),
                ("title", "fine \u{202E}gnp.exe"),
                ("severity", "3"),
            ],
        ),
        (
            "incidents/severity",
            vec![("id", id.as_str()), ("severity", "1"), ("reason", "approved\u{200B}")],
        ),
    ] {
        let (s, body) = app.call_as(&alice, endpoint, &form).await;
        assert_eq!(s, 422, "{endpoint}: {body}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("direction-changing") && (message.contains("U+202E") || message.contains("U+200B")),
            "{endpoint}: {message}"
        );
    }
}

/// After Slack was down, one webhook's messages still arrive in the order they were written:
/// "declared" is refused and waits for its retry; the severity change and "resolved", written
/// while it waits, are not sent before it.
#[tokio::test]
async fn one_webhooks_messages_arrive_in_order_after_an_outage() {
    use std::sync::atomic::Ordering;
    let slack = SlackReceiver::start(1).await;
    let dir = tempfile::tempdir().expect("dir");
    let hook = slack.url_file(dir.path());
    let app = spawn_app_with(&format!(
        "public_url = \"{{APP}}\"\n[slack]\nwebhook_url_file = \"{}\"\n[jobs]\noutbox_seconds = 1\n",
        hook.display()
    ))
    .await;
    let alice = app.session_as("alice", "responder").await;
    let (s, id) = app
        .call_as(
            &alice,
            "incidents/declare",
            &[
                ("environment", "taskflow-production"),
                ("title", "checkout 5xx"),
                ("severity", "1"),
            ],
        )
        .await;
    assert_eq!(s, 200, "{id}");
    let id = id.as_i64().expect("id").to_string();
    // Slack refuses "declared": it waits for its retry (2 s).
    eventually(Duration::from_secs(10), || async {
        (slack.refused.load(Ordering::SeqCst) == 1).then_some(())
    })
    .await
    .expect("the first post was refused");
    let (s, body) = app
        .call_as(
            &alice,
            "incidents/severity",
            &[("id", &id), ("severity", "2"), ("reason", "one region only")],
        )
        .await;
    assert_eq!(s, 200, "{body}");
    for to in ["acknowledged", "resolved"] {
        let (s, body) = app
            .call_as(
                &alice,
                "incidents/status",
                &[("id", &id), ("to", to), ("note", "fixed")],
            )
            .await;
        assert_eq!(s, 200, "{body}");
    }
    let got = eventually(Duration::from_secs(30), || async {
        let m = slack.messages();
        (m.len() >= 3).then_some(m)
    })
    .await
    .expect("all three messages were delivered");
    let keys: Vec<String> = got.iter().map(|(k, _)| k.clone()).collect();
    let written: Vec<String> = app
        .state
        .store
        .outbox_all()
        .await
        .expect("outbox")
        .into_iter()
        .map(|(k, _, _)| k)
        .collect();
    assert_eq!(keys, written, "delivered in the order written, each once");
    assert_eq!(keys[0], format!("incident-{id}-declared"));
    assert!(keys[1].starts_with(&format!("incident-{id}-sev-")), "{keys:?}");
    assert!(keys[2].starts_with(&format!("incident-{id}-resolved-")), "{keys:?}");
}
