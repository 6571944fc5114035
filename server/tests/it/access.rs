//! Break-glass access over HTTP with several people: the whole flow on the demo profiles (dev
//! logins), the two-person rule by every path, 100 concurrent approvals and activations, links
//! that die, expiry, revocation, the audit trail; against oidc-provider-mock, step-up MFA for the
//! approver and the Slack link through the SSO login.

use crate::common::{self, SlackReceiver, eventually, oidc_provider, oidc_session, oidc_user, spawn_app_with};
use app::ssr::audit;
use serde_json::{Value, json};
use std::time::Duration;

fn slack_config(slack: &SlackReceiver, dir: &std::path::Path) -> String {
    format!(
        "public_url = \"{{APP}}\"\n[slack]\nwebhook_url_file = \"{}\"\n[jobs]\noutbox_seconds = 1\n",
        slack.url_file(dir).display()
    )
}

fn token_of(link: &str) -> String {
    link.split("?t=").nth(1).unwrap_or_default().to_string()
}

#[tokio::test]
async fn request_approve_activate_revoke_with_every_refusal() {
    let slack = SlackReceiver::start(2).await;
    let dir = tempfile::tempdir().expect("dir");
    let app = spawn_app_with(&slack_config(&slack, dir.path())).await;
    let alice = app.session_as("alice", "responder").await;
    let alice_approver = app.session_as("alice", "approver").await;
    let bob = app.session_as("bob", "approver").await;
    let dave = app.session_as("dave", "viewer").await;
    let carol = app.session_as("carol", "admin").await;

    let ask = |minutes: &'static str, ticket: &'static str| {
        vec![
            ("environment", "taskflow-production"),
            ("profile", "prod-readonly"),
            ("reason", "read the orders table for INC-42"),
            ("minutes", minutes),
            ("ticket", ticket),
        ]
    };
    // A viewer cannot request; bad input is named.
    let (s, _) = app.call_as(&dave, "access/request", &ask("30", "INC-42")).await;
    assert_eq!(s, 403, "a viewer cannot request");
    let (s, body) = app.call_as(&alice, "access/request", &ask("30", "no ticket")).await;
    assert_eq!(s, 422, "{body}");
    assert!(body.to_string().contains("ticket"), "{body}");
    let (s, body) = app.call_as(&alice, "access/request", &ask("90", "INC-42")).await;
    assert_eq!(s, 422, "{body}");
    let (s, id) = app.call_as(&alice, "access/request", &ask("30", "INC-42")).await;
    assert_eq!(s, 200, "{id}");
    let id = id.as_i64().expect("id").to_string();
    let (s, _) = app.call_as(&alice, "access/request", &ask("30", "INC-42")).await;
    assert_eq!(s, 409, "one pending request per profile");

    // Slack got the request with a signed link, without unfurling.
    let msgs = eventually(Duration::from_secs(15), || async {
        let m = slack.messages();
        (!m.is_empty()).then_some(m)
    })
    .await
    .expect("the request reached Slack");
    let (key, msg) = &msgs[0];
    assert_eq!(key, &format!("access-{id}-requested"));
    assert_eq!(msg["unfurl_links"], false);
    // The button of the message's actions block.
    let link = msg["blocks"]
        .as_array()
        .and_then(|b| b.iter().find(|b| b["type"] == "actions"))
        .and_then(|a| a["elements"][0]["url"].as_str())
        .expect("a button with the link")
        .to_string();
    assert!(link.contains(&format!("/access/requests/{id}?t=")), "{link}");
    assert!(link.starts_with(&app.url), "{link}");
    let token = token_of(&link);

    // alice never approves her own request: not by the API, not with the link, not as an approver.
    for (who, form) in [
        (&alice, vec![("id", id.as_str()), ("decision", "approve")]),
        (&alice_approver, vec![("id", id.as_str()), ("decision", "approve")]),
        (
            &alice_approver,
            vec![("id", id.as_str()), ("decision", "approve"), ("token", token.as_str())],
        ),
    ] {
        let (s, body) = app.call_as(who, "access/decide", &form).await;
        assert_eq!(s, 403, "{body}");
        assert!(body.to_string().contains("two-person rule"), "{body}");
    }
    let (s, page) = app
        .call_as(
            &alice_approver,
            "access/get",
            &[("id", id.as_str()), ("token", token.as_str())],
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(page["can_decide"], false);
    assert!(
        page["decide_refused"]
            .as_str()
            .unwrap_or_default()
            .contains("two-person rule")
    );
    // Neither does a viewer or an admin (admin does not include approver).
    for who in [&dave, &carol] {
        let (s, _) = app
            .call_as(who, "access/decide", &[("id", id.as_str()), ("decision", "approve")])
            .await;
        assert_eq!(s, 403);
    }
    // A tampered link is refused. (Its last character changed: to "1" when it was "0", else a
    // token ending in "0" (one in sixteen) would be "forged" into itself and accepted.)
    let last = if token.ends_with('0') { "1" } else { "0" };
    let forged = format!("{}{last}", &token[..token.len() - 1]);
    assert_ne!(forged, token);
    let (s, _) = app
        .call_as(
            &bob,
            "access/decide",
            &[("id", id.as_str()), ("decision", "approve"), ("token", forged.as_str())],
        )
        .await;
    assert_eq!(s, 403, "a tampered link");

    // bob opens the link: who asks, for what and why.
    let (s, page) = app
        .call_as(&bob, "access/get", &[("id", id.as_str()), ("token", token.as_str())])
        .await;
    assert_eq!(s, 200, "{page}");
    assert_eq!(page["link_valid"], true);
    assert_eq!(page["can_decide"], true);
    assert_eq!(page["request"]["requester"], "alice");
    assert_eq!(page["request"]["reason"], "read the orders table for INC-42");

    // 100 concurrent approvals (bob's, through the link): exactly one counts.
    let mut calls = Vec::new();
    for _ in 0..100 {
        let (app, bob, id, token) = (&app, bob.clone(), id.clone(), token.clone());
        calls.push(async move {
            app.call_as(
                &bob,
                "access/decide",
                &[("id", id.as_str()), ("decision", "approve"), ("token", token.as_str())],
            )
            .await
        });
    }
    let results = futures::future::join_all(calls).await;
    let approved = results.iter().filter(|(s, b)| *s == 200 && b == "approved").count();
    assert_eq!(approved, 1, "{:?}", results.iter().map(|r| r.0).collect::<Vec<_>>());
    assert!(results.iter().all(|(s, _)| *s == 200 || *s == 409 || *s == 403));

    // The link died with the pending state.
    let (s, body) = app
        .call_as(
            &bob,
            "access/decide",
            &[("id", id.as_str()), ("decision", "approve"), ("token", token.as_str())],
        )
        .await;
    assert_eq!(s, 403, "a reused link: {body}");
    let (_, page) = app
        .call_as(&bob, "access/get", &[("id", id.as_str()), ("token", token.as_str())])
        .await;
    assert_eq!(page["link_valid"], false);

    // Only alice activates, once, however many times she clicks.
    let (s, _) = app.call_as(&bob, "access/activate", &[("id", id.as_str())]).await;
    assert_eq!(s, 403, "only the requester activates");
    let mut calls = Vec::new();
    for _ in 0..20 {
        let (app, alice, id) = (&app, alice.clone(), id.clone());
        calls.push(async move { app.call_as(&alice, "access/activate", &[("id", id.as_str())]).await });
    }
    let results = futures::future::join_all(calls).await;
    let issued: Vec<&Value> = results.iter().filter(|(s, _)| *s == 200).map(|(_, b)| b).collect();
    assert_eq!(
        issued.len(),
        1,
        "exactly one grant: {:?}",
        results.iter().map(|r| r.0).collect::<Vec<_>>()
    );
    let creds = issued[0];
    assert!(
        creds["access_key_id"]
            .as_str()
            .unwrap_or_default()
            .starts_with("ASIADEMO"),
        "{creds}"
    );
    assert_eq!(creds["demo"], true);
    assert_eq!(creds["session_name"], format!("req-{id}-alice"));
    let left = creds["expires_ms"].as_i64().expect("expiry") - creds["issued_now_ms"].as_i64().expect("now");
    assert!(
        left <= 30 * 60_000 && left > 25 * 60_000,
        "expires within the 30 min window: {left}"
    );
    let (_, page) = app.call_as(&alice, "access/get", &[("id", id.as_str())]).await;
    assert_eq!(page["request"]["status"], "active");
    let stored = page["request"]["grant"].to_string();
    assert!(
        !stored.contains("secret") && !stored.contains("demo-session-token"),
        "only key id and expiry are kept: {stored}"
    );

    // Revoke: the requester may; a viewer may not.
    let (s, _) = app.call_as(&dave, "access/revoke", &[("id", id.as_str())]).await;
    assert_eq!(s, 403);
    let (s, body) = app
        .call_as(&alice, "access/revoke", &[("id", id.as_str()), ("reason", "done")])
        .await;
    assert_eq!(s, 200, "{body}");
    let (_, page) = app.call_as(&alice, "access/get", &[("id", id.as_str())]).await;
    assert_eq!(page["request"]["status"], "revoked");

    // Every step is in the audit chain, which verifies.
    let all = app.state.store.audit_all(None).await.expect("audit");
    let actions: Vec<&str> = all.iter().map(|r| r.entry.action.as_str()).collect();
    for a in [
        "access.request",
        "access.approve",
        "access.activate",
        "access.revoke",
        "request.refused",
    ] {
        assert!(actions.contains(&a), "{a} in {actions:?}");
    }
    assert!(audit::verify(common::TEST_AUDIT_KEY.as_bytes(), &all).is_ok());
}

#[tokio::test]
async fn grants_past_expiry_are_not_active_and_pending_requests_time_out() {
    let app = spawn_app_with("[access]\npending_expiry_minutes = 1\n[jobs]\noutbox_seconds = 1\n").await;
    let alice = app.session_as("alice", "responder").await;
    let bob = app.session_as("bob", "approver").await;
    let form = [
        ("environment", "taskflow-production"),
        ("profile", "prod-readonly"),
        ("reason", "check a query plan"),
        ("minutes", "15"),
        ("ticket", "CHG-7"),
    ];
    let (_, id) = app.call_as(&alice, "access/request", &form).await;
    let id = id.as_i64().expect("id");
    let ids = id.to_string();
    let (s, _) = app
        .call_as(&bob, "access/decide", &[("id", ids.as_str()), ("decision", "approve")])
        .await;
    assert_eq!(s, 200);
    let (s, _) = app.call_as(&alice, "access/activate", &[("id", ids.as_str())]).await;
    assert_eq!(s, 200);

    // The credentials' expiry passes (as if the console had been down): not shown active, and
    // the expiry job records it.
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let db = format!("sqlite://{}", app.db_path().display());
    let mut raw = sqlx::AnyConnection::connect(&db).await.expect("raw");
    sqlx::query("UPDATE access_grants SET expires_ms = 1000 WHERE request_id = $1")
        .bind(id)
        .execute(&mut raw)
        .await
        .expect("age the grant");
    let (_, page) = app.call_as(&alice, "access/get", &[("id", ids.as_str())]).await;
    assert_eq!(page["request"]["status"], "expired");
    let recorded = eventually(Duration::from_secs(15), || async {
        let r = app.state.store.access_get(id).await.ok().flatten()?;
        (r.status.label() == "expired").then_some(r)
    })
    .await
    .expect("the expiry job marks it expired");
    assert!(recorded.ended_ms.is_some());

    // A pending request past pending_expiry_minutes times out; its decision is refused.
    let (_, id2) = app.call_as(&alice, "access/request", &form).await;
    let id2 = id2.as_i64().expect("id");
    sqlx::query("UPDATE access_requests SET pending_until_ms = 1000 WHERE id = $1")
        .bind(id2)
        .execute(&mut raw)
        .await
        .expect("age the request");
    let ids2 = id2.to_string();
    let (s, _) = app
        .call_as(&bob, "access/decide", &[("id", ids2.as_str()), ("decision", "approve")])
        .await;
    assert_eq!(s, 409, "no decision on a timed-out request");
    eventually(Duration::from_secs(15), || async {
        let r = app.state.store.access_get(id2).await.ok().flatten()?;
        (r.status.label() == "timed_out").then_some(())
    })
    .await
    .expect("timed out");
}

#[tokio::test]
async fn break_glass_needs_a_sev1_or_sev2_and_a_review_by_someone_else() {
    let app = spawn_app_with("").await;
    let alice = app.session_as("alice", "responder").await;
    let bob = app.session_as("bob", "approver").await;
    let bob_responder = app.session_as("bob", "responder").await;
    let carol = app.session_as("carol", "approver").await;
    let declare = |sev: &'static str| {
        vec![
            ("environment", "taskflow-production"),
            ("title", "orders failing"),
            ("severity", sev),
        ]
    };
    let (_, sev3) = app.call_as(&alice, "incidents/declare", &declare("3")).await;
    let (_, sev1) = app.call_as(&alice, "incidents/declare", &declare("1")).await;
    let (sev3, sev1) = (sev3.to_string(), sev1.to_string());
    let take = |incident: &str| {
        vec![
            ("environment", "taskflow-production".to_string()),
            ("profile", "prod-break-glass".to_string()),
            ("incident", incident.to_string()),
            ("reason", "orders table locked".to_string()),
        ]
    };
    let f = |v: &Vec<(&'static str, String)>| v.iter().map(|(k, v)| (*k, v.clone())).collect::<Vec<_>>();
    let form3 = f(&take(&sev3));
    let form3: Vec<(&str, &str)> = form3.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (s, body) = app.call_as(&alice, "access/emergency", &form3).await;
    assert_eq!(s, 422, "SEV3 is not enough: {body}");
    let form1 = f(&take(&sev1));
    let form1: Vec<(&str, &str)> = form1.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (s, id) = app.call_as(&alice, "access/emergency", &form1).await;
    assert_eq!(s, 200, "{id}");
    let ids = id.to_string();
    let r = alice
        .post(format!("{}/api/v1/access/activate", app.url))
        .header("origin", &app.url)
        .header("accept-encoding", "br, gzip")
        .form(&[("id", ids.as_str())])
        .send()
        .await
        .expect("activate");
    assert_eq!(r.status(), 200);
    // Shown once: never stored, and never compressed, so that its length tells an observer
    // nothing about the secret in it (BREACH).
    assert_eq!(
        r.headers().get("cache-control").and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    assert!(r.headers().get("content-encoding").is_none(), "{:?}", r.headers());
    let creds: serde_json::Value = r.json().await.expect("credentials");
    let left = creds["expires_ms"].as_i64().unwrap_or(0) - creds["issued_now_ms"].as_i64().unwrap_or(0);
    assert!(left <= 30 * 60_000, "the emergency window: {left}");

    // On the incident's timeline, flagged when the grantee declared the incident.
    let (_, inc) = app.call_as(&alice, "incidents/get", &[("id", sev1.as_str())]).await;
    assert!(inc.to_string().contains("BREAK-GLASS"), "{inc}");
    assert!(inc.to_string().contains("the grantee also declared the incident"));
    // The incidents list shows it until reviewed, by an approver other than the grantee.
    let (_, list) = app.call_as(&alice, "incidents/list", &[]).await;
    assert_eq!(list["emergency_reviews"].as_array().map(Vec::len), Some(1));
    let (s, _) = app
        .call_as(&bob_responder, "access/review", &[("id", ids.as_str()), ("note", "ok")])
        .await;
    assert_eq!(s, 403, "a responder does not review");
    let (s, _) = app
        .call_as(&bob, "access/review", &[("id", ids.as_str()), ("note", "")])
        .await;
    assert_eq!(s, 422, "a review says something");
    // Two approvers review at once: one review is recorded, the other is told someone was first.
    // Each has read what the session did (its digest rides with the review).
    let (s, activity) = app.call_as(&bob, "access/activity", &[("id", ids.as_str())]).await;
    assert_eq!(s, 200, "{activity}");
    let seen = activity["digest"].as_str().expect("digest").to_string();
    let note = [
        ("id", ids.as_str()),
        ("note", "justified: lock held by a stuck migration"),
        ("seen", seen.as_str()),
    ];
    let (a, b) = tokio::join!(
        app.call_as(&bob, "access/review", &note),
        app.call_as(&carol, "access/review", &note)
    );
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(statuses, [200, 409], "{} / {}", a.1, b.1);
    let reviews: Vec<String> = app
        .state
        .store
        .audit_all(None)
        .await
        .expect("audit")
        .into_iter()
        .filter(|e| e.entry.action == "access.review")
        .map(|e| e.entry.outcome)
        .collect();
    assert_eq!(
        reviews,
        ["ok", "refused"],
        "one review; the second is refused and audited"
    );
    let (_, list) = app.call_as(&alice, "incidents/list", &[]).await;
    assert_eq!(list["emergency_reviews"].as_array().map(Vec::len), Some(0));
}

#[tokio::test]
async fn the_approver_logs_in_through_the_link_with_a_fresh_mfa() {
    let issuer = oidc_provider();
    for (sub, groups, amr) in [
        ("acc-alice", vec!["oncall"], vec!["pwd", "mfa"]),
        ("acc-bob-nomfa", vec!["tech-leads"], vec!["pwd"]),
        ("acc-bob", vec!["tech-leads"], vec!["pwd", "mfa"]),
    ] {
        oidc_user(
            &issuer,
            sub,
            json!({"email": format!("{sub}@example.com"), "name": sub, "groups": groups, "amr": amr}),
        )
        .await;
    }
    // One file per console: tests of one binary run at once, and a file rewritten while
    // another console reads it could be read empty.
    let secret = std::env::temp_dir().join(format!(
        "ops-console-test-oidc-client-secret-{:08x}",
        rand::random::<u32>()
    ));
    std::fs::write(&secret, "test-client-secret\n").expect("secret file");
    let app = spawn_app_with(&format!(
        "public_url = \"{{APP}}\"\n[auth]\nmode = \"oidc\"\nclient_id = \"ops-console-test\"\nissuer_url = \"{issuer}\"\n\
         client_secret_file = \"{}\"\nredirect_url = \"{{APP}}/auth/callback\"\n\
         [roles]\nresponder = [\"oncall\"]\napprover = [\"tech-leads\"]\n",
        secret.display()
    ))
    .await;
    let (alice, _) = oidc_session(&app, "acc-alice", "/access").await;
    let (s, id) = app
        .call_as(
            &alice,
            "access/request",
            &[
                ("environment", "taskflow-production"),
                ("profile", "prod-readonly"),
                ("reason", "read-only look"),
                ("minutes", "30"),
                ("ticket", "INC-9"),
            ],
        )
        .await;
    assert_eq!(s, 200, "{id}");
    let id = id.as_i64().expect("id");
    let r = app.state.store.access_get(id).await.expect("get").expect("request");
    let link = app::ssr::access::link_for(&app.state, &r);
    let path = link.trim_start_matches(&app.url).to_string();

    // Opening the link without a session goes to the login, and back to the link after it.
    let anon = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let r = anon.get(&link).send().await.expect("open link");
    assert_eq!(r.status(), 303);
    let (bob, landed) = oidc_session(&app, "acc-bob", &path).await;
    assert_eq!(landed, path, "the approver lands on the request page");
    let (nomfa, _) = oidc_session(&app, "acc-bob-nomfa", &path).await;
    let token = token_of(&link);
    let decide = [
        ("id", id.to_string()),
        ("decision", "approve".into()),
        ("token", token.clone()),
    ];
    let decide: Vec<(&str, &str)> = decide.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (s, body) = app.call_as(&nomfa, "access/decide", &decide).await;
    assert_eq!(s, 403, "an approver without a fresh MFA login: {body}");
    assert!(body.to_string().contains("step_up=1"), "{body}");
    let (s, body) = app.call_as(&bob, "access/decide", &decide).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body, "approved");
    let (s, creds) = app
        .call_as(&alice, "access/activate", &[("id", id.to_string().as_str())])
        .await;
    assert_eq!(s, 200, "{creds}");
}

#[tokio::test]
async fn an_extension_is_a_new_request_that_overlaps_the_running_grant() {
    let app = spawn_app_with("").await;
    let alice = app.session_as("alice", "responder").await;
    let bob = app.session_as("bob", "approver").await;
    let dave_responder = app.session_as("dave", "responder").await;
    let form = |extends: &str| {
        vec![
            ("environment", "taskflow-production".to_string()),
            ("profile", "prod-readonly".to_string()),
            ("reason", "still investigating".to_string()),
            ("minutes", "30".to_string()),
            ("ticket", "INC-5".to_string()),
            ("extends", extends.to_string()),
        ]
    };
    let call = |f: Vec<(&'static str, String)>| f;
    let first = call(form(""));
    let first: Vec<(&str, &str)> = first.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (_, id) = app.call_as(&alice, "access/request", &first).await;
    let id = id.as_i64().expect("id").to_string();
    app.call_as(&bob, "access/decide", &[("id", id.as_str()), ("decision", "approve")])
        .await;
    let (s, _) = app.call_as(&alice, "access/activate", &[("id", id.as_str())]).await;
    assert_eq!(s, 200);

    // Someone else cannot extend alice's grant.
    let ext = form(&id);
    let ext: Vec<(&str, &str)> = ext.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (s, body) = app.call_as(&dave_responder, "access/request", &ext).await;
    assert_eq!(s, 422, "{body}");
    // alice's extension is approved and activated while the first grant still runs.
    let (s, id2) = app.call_as(&alice, "access/request", &ext).await;
    assert_eq!(s, 200, "{id2}");
    let id2 = id2.as_i64().expect("id").to_string();
    app.call_as(&bob, "access/decide", &[("id", id2.as_str()), ("decision", "approve")])
        .await;
    let (s, creds) = app.call_as(&alice, "access/activate", &[("id", id2.as_str())]).await;
    assert_eq!(s, 200, "{creds}");
    let (_, first_now) = app.call_as(&alice, "access/get", &[("id", id.as_str())]).await;
    assert_eq!(
        first_now["request"]["status"], "active",
        "no gap: the first grant is still active"
    );
    let (_, second) = app.call_as(&alice, "access/get", &[("id", id2.as_str())]).await;
    assert_eq!(
        second["request"]["extends_id"].as_i64().map(|v| v.to_string()),
        Some(id.clone())
    );
    assert!(
        second["request"]["grant"]["expires_ms"].as_i64() > first_now["request"]["grant"]["expires_ms"].as_i64(),
        "the extension ends later"
    );
}

/// An API token is never a person: every access write refuses it with 403 (and the refusal is
/// audited) whatever input it sends, because the caller is checked before the input is read.
#[tokio::test]
async fn a_token_is_refused_access_writes_before_its_input_is_read() {
    let app = spawn_app_with("").await;
    let carol = app.session_as("carol", "admin").await;
    let (s, created) = app
        .call_as(
            &carol,
            "tokens/create",
            &[("name", "bot"), ("role", "responder"), ("days", "1")],
        )
        .await;
    assert_eq!(s, 200, "{created}");
    let token = created["token"].as_str().expect("token shown once").to_string();
    let calls: [(&str, Vec<(&str, &str)>); 5] = [
        (
            "access/request",
            vec![
                ("environment", "taskflow-production"),
                ("profile", "prod-readonly"),
                ("reason", ""),
                ("minutes", "999"),
            ],
        ),
        (
            "access/decide",
            vec![("id", "1"), ("decision", "approve"), ("comment", "\u{7}")],
        ),
        ("access/revoke", vec![("id", "1"), ("reason", "\u{7}")]),
        ("access/review", vec![("id", "1"), ("note", "")]),
        (
            "access/emergency",
            vec![
                ("environment", "taskflow-production"),
                ("profile", "prod-break-glass"),
                ("incident", "1"),
                ("reason", ""),
            ],
        ),
    ];
    for (endpoint, form) in &calls {
        let r = reqwest::Client::new()
            .post(format!("{}/api/v1/{endpoint}", app.url))
            .bearer_auth(&token)
            .form(form)
            .send()
            .await
            .expect("bearer call");
        assert_eq!(r.status().as_u16(), 403, "{endpoint} with bad input");
    }
    let refused = app
        .state
        .store
        .audit_all(None)
        .await
        .expect("audit")
        .into_iter()
        .filter(|e| e.entry.action == "request.refused")
        .count();
    assert_eq!(refused, calls.len(), "each refusal is audited");
}

/// Item 4: the revocation lock of one role across replicas is a lease row (`revoke:<role ARN>`):
/// one holder at a time, handed over as soon as it is released (only by its holder), taken over
/// once it lapses, and independent per role. The same on SQLite and Postgres.
async fn role_locks_go_to_one_replica_at_a_time(s: &dyn app::ssr::store::Store) {
    let role = "revoke:arn:aws:iam::123456789012:role/prod-readonly";
    assert!(s.lease_acquire(role, "replica-a", 1_000, 60_000).await.expect("a"));
    assert!(
        !s.lease_acquire(role, "replica-b", 2_000, 60_000)
            .await
            .expect("b waits")
    );
    s.lease_release(role, "replica-b").await.expect("b's release");
    assert!(
        !s.lease_acquire(role, "replica-b", 3_000, 60_000).await.expect("b"),
        "b cannot release a's lock"
    );
    assert!(
        s.lease_acquire(
            "revoke:arn:aws:iam::123456789012:role/other",
            "replica-b",
            3_000,
            60_000
        )
        .await
        .expect("another role"),
        "another role's lock is free"
    );
    s.lease_release(role, "replica-a").await.expect("a's release");
    assert!(
        s.lease_acquire(role, "replica-b", 4_000, 60_000).await.expect("b"),
        "handed over at once"
    );
    assert!(
        s.lease_acquire(role, "replica-c", 64_001, 60_000).await.expect("c"),
        "b stopped: its lock lapses"
    );
}

#[tokio::test]
async fn sqlite_role_locks_go_to_one_replica_at_a_time() {
    let dir = tempfile::tempdir().expect("dir");
    let store = app::ssr::store::SqlStore::connect(&format!("sqlite://{}/t.db", dir.path().display()))
        .await
        .expect("sqlite");
    app::ssr::store::Store::migrate(&store).await.expect("migrate");
    role_locks_go_to_one_replica_at_a_time(&store).await;
}

#[tokio::test]
async fn postgres_role_locks_go_to_one_replica_at_a_time() {
    let store = app::ssr::store::SqlStore::connect(&common::fresh_postgres().await)
        .await
        .expect("postgres");
    app::ssr::store::Store::migrate(&store).await.expect("migrate");
    role_locks_go_to_one_replica_at_a_time(&store).await;
}

/// A console signing people in at oidc-provider-mock, with `[roles]` as given.
async fn oidc_app(issuer: &str, roles: &str) -> common::TestApp {
    let secret = std::env::temp_dir().join(format!(
        "ops-console-test-oidc-client-secret-{:08x}",
        rand::random::<u32>()
    ));
    std::fs::write(&secret, "test-client-secret\n").expect("secret file");
    spawn_app_with(&format!(
        "public_url = \"{{APP}}\"\n[auth]\nmode = \"oidc\"\nclient_id = \"ops-console-test\"\nissuer_url = \"{issuer}\"\n\
         client_secret_file = \"{}\"\nredirect_url = \"{{APP}}/auth/callback\"\n[roles]\n{roles}",
        secret.display()
    ))
    .await
}

/// Puts users at the provider with a per-test prefix: (sub, name, email, email_verified, groups).
async fn people(issuer: &str, users: &[(&str, &str, &str, bool, &[&str])]) {
    for (sub, name, email, verified, groups) in users {
        oidc_user(
            issuer,
            sub,
            json!({"name": name, "email": email, "email_verified": verified, "groups": groups, "amr": ["pwd", "mfa"]}),
        )
        .await;
    }
}

fn ask_readonly(ticket: &str) -> Vec<(&'static str, String)> {
    vec![
        ("environment", "taskflow-production".into()),
        ("profile", "prod-readonly".into()),
        ("reason", "read-only look".into()),
        ("minutes", "30".into()),
        ("ticket", ticket.into()),
    ]
}

fn form<'a>(v: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    v.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// One person with two accounts at the identity provider (`alice` and `Alice`, one verified
/// email in two spellings) does not approve her own request with the second; approvers see the
/// requester's name and verified email, not the provider's subject; an email the provider says
/// is unverified is neither shown nor compared.
#[tokio::test]
async fn two_accounts_with_one_verified_email_are_one_person() {
    let issuer = oidc_provider();
    let t = format!("{:06x}", rand::random::<u32>() & 0xff_ffff);
    let (alice, alice2, bob, eve) = (
        format!("p{t}-alice"),
        format!("p{t}-Alice"),
        format!("p{t}-bob"),
        format!("p{t}-eve"),
    );
    let (mail, mail2, bob_mail) = (
        format!("alice.{t}@example.com"),
        format!("Alice.{t}@Example.COM"),
        format!("bob.{t}@example.com"),
    );
    people(
        &issuer,
        &[
            (&alice, "Alice Example", &mail, true, &["oncall"]),
            (&alice2, "Alice (lead account)", &mail2, true, &["tech-leads"]),
            (&bob, "Bob Lead", &bob_mail, true, &["tech-leads"]),
            // Eve claims Bob's email, which the provider has not verified.
            (&eve, "Eve", &bob_mail, false, &["oncall"]),
        ],
    )
    .await;
    let app = oidc_app(&issuer, "responder = [\"oncall\"]\napprover = [\"tech-leads\"]\n").await;
    let (a, _) = oidc_session(&app, &alice, "/access").await;
    let (a2, _) = oidc_session(&app, &alice2, "/access").await;
    let (b, _) = oidc_session(&app, &bob, "/access").await;
    let (e, _) = oidc_session(&app, &eve, "/access").await;

    let (s, id) = app.call_as(&a, "access/request", &form(&ask_readonly("INC-1"))).await;
    assert_eq!(s, 200, "{id}");
    let id = id.as_i64().expect("id").to_string();
    let (s, page) = app.call_as(&a2, "access/get", &[("id", id.as_str())]).await;
    assert_eq!(s, 200, "{page}");
    assert_eq!(page["can_decide"], false, "{page}");
    assert!(
        page["decide_refused"]
            .as_str()
            .unwrap_or_default()
            .contains("two-person rule"),
        "{page}"
    );
    let (_, overview) = app.call_as(&a2, "access/overview", &[]).await;
    assert_eq!(overview["to_decide"].as_array().map(Vec::len), Some(0), "{overview}");
    let (s, body) = app
        .call_as(&a2, "access/decide", &[("id", id.as_str()), ("decision", "approve")])
        .await;
    assert_eq!(s, 403, "her second account approves her own request: {body}");
    assert!(body.to_string().contains("two-person rule"), "{body}");

    // Bob sees who asks: a name and a verified email, the subject only alongside.
    let (_, page) = app.call_as(&b, "access/get", &[("id", id.as_str())]).await;
    assert_eq!(page["requester_name"], "Alice Example", "{page}");
    assert_eq!(page["requester_email"], mail.as_str(), "{page}");
    assert_eq!(page["can_decide"], true, "{page}");
    let (s, body) = app
        .call_as(&b, "access/decide", &[("id", id.as_str()), ("decision", "approve")])
        .await;
    assert_eq!(s, 200, "{body}");

    // Eve's unverified copy of Bob's email is not shown, and does not make her Bob.
    let (s, id) = app.call_as(&e, "access/request", &form(&ask_readonly("INC-2"))).await;
    assert_eq!(s, 200, "{id}");
    let id = id.as_i64().expect("id").to_string();
    let (_, page) = app.call_as(&b, "access/get", &[("id", id.as_str())]).await;
    assert_eq!(page["requester_email"], "", "{page}");
    assert_eq!(page["can_decide"], true, "{page}");
}

/// Groups are read at login (and at every step-up): someone who left the profile's requester
/// groups after asking does not activate the approved grant.
#[tokio::test]
async fn activation_checks_the_requesters_groups_again() {
    let issuer = oidc_provider();
    let t = format!("{:06x}", rand::random::<u32>() & 0xff_ffff);
    let (alice, bob) = (format!("g{t}-alice"), format!("g{t}-bob"));
    let (alice_mail, bob_mail) = (format!("{alice}@example.com"), format!("{bob}@example.com"));
    people(
        &issuer,
        &[
            (&alice, "Alice", &alice_mail, true, &["oncall", "eng"]),
            (&bob, "Bob", &bob_mail, true, &["tech-leads"]),
        ],
    )
    .await;
    // `eng` keeps alice a responder; the demo profiles are requested by `oncall` only.
    let app = oidc_app(
        &issuer,
        "responder = [\"oncall\", \"eng\"]\napprover = [\"tech-leads\"]\n",
    )
    .await;
    let (a, _) = oidc_session(&app, &alice, "/access").await;
    let (b, _) = oidc_session(&app, &bob, "/access").await;
    let (s, id) = app.call_as(&a, "access/request", &form(&ask_readonly("INC-3"))).await;
    assert_eq!(s, 200, "{id}");
    let id = id.as_i64().expect("id").to_string();
    let (s, body) = app
        .call_as(&b, "access/decide", &[("id", id.as_str()), ("decision", "approve")])
        .await;
    assert_eq!(s, 200, "{body}");
    // alice leaves on-call at the provider, and signs in again (the step-up activation asks for).
    people(&issuer, &[(&alice, "Alice", &alice_mail, true, &["eng"])]).await;
    let (a, _) = oidc_session(&app, &alice, "/access").await;
    let (s, body) = app.call_as(&a, "access/activate", &[("id", id.as_str())]).await;
    assert_eq!(s, 403, "no longer in the requester groups: {body}");
    assert!(body.to_string().contains("oncall"), "{body}");
    let r = app
        .state
        .store
        .access_get(id.parse().expect("id"))
        .await
        .expect("get")
        .expect("request");
    assert_eq!(r.status.label(), "approved", "nothing was issued");
}

/// Roles are fixed at login: an approver's session ends after `auth.approver_absolute_hours`
/// (default 4), a responder's after `auth.absolute_hours` (12).
#[tokio::test]
async fn an_approver_session_ends_sooner_than_a_responders() {
    let app = spawn_app_with("").await;
    let alice = app.session_as("alice", "responder").await;
    let bob = app.session_as("bob", "approver").await;
    // Both sessions began five hours ago.
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let db = format!("sqlite://{}", app.db_path().display());
    let mut raw = sqlx::AnyConnection::connect(&db).await.expect("raw");
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT id, data FROM sessions")
        .fetch_all(&mut raw)
        .await
        .expect("sessions");
    let mut aged = 0;
    for (sid, data) in rows {
        // Edited as text: the record's id is an i128, which a serde_json::Value would not keep.
        let record: Value = serde_json::from_str(&data).expect("record");
        if let Some(at) = record["data"]["ops_console.user"]["login_at"].as_i64() {
            let aged_data = data.replace(
                &format!("\"login_at\":{at}"),
                &format!("\"login_at\":{}", at - 5 * 3600),
            );
            assert_ne!(aged_data, data);
            sqlx::query("UPDATE sessions SET data = $1 WHERE id = $2")
                .bind(aged_data)
                .bind(sid)
                .execute(&mut raw)
                .await
                .expect("age");
            aged += 1;
        }
    }
    assert_eq!(aged, 2);
    let (_, me) = app.call_as(&alice, "session/whoami", &[]).await;
    assert_eq!(me["subject"], "alice", "a responder's session lasts 12 h: {me}");
    let (_, me) = app.call_as(&bob, "session/whoami", &[]).await;
    assert_eq!(me["anonymous"], true, "the approver's session has ended: {me}");
    let (s, _) = app
        .call_as(&bob, "access/decide", &[("id", "1"), ("decision", "approve")])
        .await;
    assert_eq!(s, 403);
}

/// An emergency grant is reviewed by an approver of the profile's approver groups (the approver
/// role alone is not enough), once: a second review is refused with 409 and audited.
#[tokio::test]
async fn an_emergency_review_needs_the_profiles_approvers_and_happens_once() {
    let issuer = oidc_provider();
    let t = format!("{:06x}", rand::random::<u32>() & 0xff_ffff);
    let subs: Vec<String> = ["alice", "erin", "bob", "carol"]
        .iter()
        .map(|n| format!("r{t}-{n}"))
        .collect();
    let mails: Vec<String> = subs.iter().map(|s| format!("{s}@example.com")).collect();
    people(
        &issuer,
        &[
            (&subs[0], "Alice", &mails[0], true, &["oncall"]),
            (&subs[1], "Erin", &mails[1], true, &["eng-leads"]),
            (&subs[2], "Bob", &mails[2], true, &["tech-leads"]),
            (&subs[3], "Carol", &mails[3], true, &["tech-leads"]),
        ],
    )
    .await;
    let app = oidc_app(
        &issuer,
        "responder = [\"oncall\"]\napprover = [\"tech-leads\", \"eng-leads\"]\n",
    )
    .await;
    let mut who = Vec::new();
    for s in &subs {
        who.push(oidc_session(&app, s, "/access").await.0);
    }
    let (s, inc) = app
        .call_as(
            &who[0],
            "incidents/declare",
            &[
                ("environment", "taskflow-production"),
                ("title", "orders failing"),
                ("severity", "1"),
            ],
        )
        .await;
    assert_eq!(s, 200, "{inc}");
    let inc = inc.to_string();
    let (s, id) = app
        .call_as(
            &who[0],
            "access/emergency",
            &[
                ("environment", "taskflow-production"),
                ("profile", "prod-break-glass"),
                ("incident", inc.as_str()),
                ("reason", "orders table locked"),
            ],
        )
        .await;
    assert_eq!(s, 200, "{id}");
    let id = id.to_string();
    let (_, activity) = app.call_as(&who[2], "access/activity", &[("id", id.as_str())]).await;
    let seen = activity["digest"].as_str().expect("digest").to_string();
    let note = [("id", id.as_str()), ("note", "justified"), ("seen", seen.as_str())];
    let (s, body) = app.call_as(&who[1], "access/review", &note).await;
    assert_eq!(s, 403, "an approver outside the profile's approver groups: {body}");
    let (_, page) = app.call_as(&who[1], "access/get", &[("id", id.as_str())]).await;
    assert_eq!(page["can_review"], false, "{page}");
    let (s, body) = app.call_as(&who[2], "access/review", &note).await;
    assert_eq!(s, 200, "{body}");
    let (s, body) = app.call_as(&who[3], "access/review", &note).await;
    assert_eq!(s, 409, "reviewed once: {body}");
    let (s, _) = app.call_as(&who[2], "access/review", &note).await;
    assert_eq!(s, 409, "not twice by the same approver either");
    let reviews: Vec<(String, String)> = app
        .state
        .store
        .audit_all(None)
        .await
        .expect("audit")
        .into_iter()
        .filter(|e| e.entry.action == "access.review")
        .map(|e| (e.entry.actor, e.entry.outcome))
        .collect();
    assert_eq!(
        reviews,
        vec![
            (subs[2].clone(), "ok".to_string()),
            (subs[3].clone(), "refused".to_string()),
            (subs[2].clone(), "refused".to_string()),
        ]
    );
}

/// With two approvals needed, one approver's second account (same verified email) is not the
/// second approver.
#[tokio::test]
async fn two_approvals_need_two_people_not_two_accounts() {
    let issuer = oidc_provider();
    let t = format!("{:06x}", rand::random::<u32>() & 0xff_ffff);
    let (alice, bob, bob2, carol) = (
        format!("q{t}-alice"),
        format!("q{t}-bob"),
        format!("q{t}-Bob"),
        format!("q{t}-carol"),
    );
    let (am, bm, bm2, cm) = (
        format!("alice.{t}@example.com"),
        format!("bob.{t}@example.com"),
        format!("BOB.{t}@example.com"),
        format!("carol.{t}@example.com"),
    );
    people(
        &issuer,
        &[
            (&alice, "Alice", &am, true, &["oncall"]),
            (&bob, "Bob", &bm, true, &["tech-leads"]),
            (&bob2, "Bob (second account)", &bm2, true, &["tech-leads"]),
            (&carol, "Carol", &cm, true, &["tech-leads"]),
        ],
    )
    .await;
    let app = oidc_app(&issuer, "responder = [\"oncall\"]\napprover = [\"tech-leads\"]\n").await;
    let (a, _) = oidc_session(&app, &alice, "/access").await;
    let (b, _) = oidc_session(&app, &bob, "/access").await;
    let (b2, _) = oidc_session(&app, &bob2, "/access").await;
    let (c, _) = oidc_session(&app, &carol, "/access").await;
    let (s, id) = app
        .call_as(
            &a,
            "access/request",
            &[
                ("environment", "taskflow-production"),
                ("profile", "prod-db-access"),
                ("reason", "fix a stuck migration"),
                ("minutes", "30"),
                ("ticket", "INC-2"),
            ],
        )
        .await;
    assert_eq!(s, 200, "{id}");
    let id = id.as_i64().expect("id").to_string();
    let approve = [("id", id.as_str()), ("decision", "approve")];
    let (s, body) = app.call_as(&b, "access/decide", &approve).await;
    assert_eq!(s, 200, "{body}");
    let (s, body) = app.call_as(&b2, "access/decide", &approve).await;
    assert_eq!(s, 403, "bob's second account is not a second approver: {body}");
    assert!(body.to_string().contains("another account"), "{body}");
    let (_, page) = app.call_as(&a, "access/get", &[("id", id.as_str())]).await;
    assert_eq!(page["request"]["status"], "pending", "{page}");
    let (s, body) = app.call_as(&c, "access/decide", &approve).await;
    assert_eq!(s, 200, "{body}");
    let (_, page) = app.call_as(&a, "access/get", &[("id", id.as_str())]).await;
    assert_eq!(page["request"]["status"], "approved", "{page}");
}
