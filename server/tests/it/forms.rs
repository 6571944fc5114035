//! Plain HTML form posts, as a browser without the app's script sends them (issue 15, item 2):
//! every action answers `303 See Other` to the page (its error in `__err`, rendered by that page)
//! or to what it created, the refusal is still audited, and scripts keep their JSON and status.

use crate::common::{TestApp, spawn_app_with};

/// A form post as a browser sends it: `Accept: text/html`, the page as Referer, own Origin.
async fn post_form(
    app: &TestApp,
    client: &reqwest::Client,
    endpoint: &str,
    page: &str,
    form: &[(&str, &str)],
) -> (u16, String) {
    let r = client
        .post(format!("{}/api/v1/{endpoint}", app.url))
        .header("accept", "text/html,application/xhtml+xml")
        .header("origin", &app.url)
        .header("referer", format!("{}{page}", app.url))
        .form(form)
        .send()
        .await
        .expect("post");
    let location = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (r.status().as_u16(), location)
}

async fn page(app: &TestApp, client: &reqwest::Client, path: &str) -> (u16, String) {
    let r = client.get(format!("{}{path}", app.url)).send().await.expect("get");
    (r.status().as_u16(), r.text().await.expect("body"))
}

#[tokio::test]
async fn form_posts_without_script_answer_303_to_the_page_with_the_outcome_on_it() {
    let app = spawn_app_with("").await;
    let alice = app.session_as("alice", "responder").await;
    let dave = app.session_as("dave", "viewer").await;

    // Declare goes to the new incident.
    let (s, to) = post_form(
        &app,
        &alice,
        "incidents/declare",
        "/incidents",
        &[
            ("environment", "taskflow-production"),
            ("title", "Checkout 5xx without script"),
            ("severity", "2"),
        ],
    )
    .await;
    assert_eq!(s, 303, "{to}");
    let id = to.strip_prefix("/incidents/").expect("to the incident").to_string();
    assert!(id.parse::<i64>().is_ok(), "{to}");
    let here = format!("/incidents/{id}");
    let (s, html) = page(&app, &alice, &here).await;
    assert_eq!(s, 200);
    assert!(html.contains("Checkout 5xx without script"), "the new incident's page");

    // A note goes back to the page, which shows it.
    let (s, to) = post_form(
        &app,
        &alice,
        "incidents/note",
        &here,
        &[("id", &id), ("text", "rolled the canary back")],
    )
    .await;
    assert_eq!((s, to.as_str()), (303, here.as_str()));
    let (_, html) = page(&app, &alice, &here).await;
    assert!(html.contains("rolled the canary back"), "the note is on the timeline");

    // An illegal move goes back with the error, which the page renders; nothing changed.
    let (s, to) = post_form(
        &app,
        &alice,
        "incidents/status",
        &here,
        &[("id", &id), ("to", "closed")],
    )
    .await;
    assert_eq!(s, 303, "{to}");
    assert!(to.starts_with(&format!("{here}?__path=")), "{to}");
    assert!(to.contains("__err="), "{to}");
    let (_, view) = app.call_as(&alice, "incidents/get", &[("id", &id)]).await;
    assert_eq!(view["incident"]["status"], "triggered", "{view}");
    let (s, html) = page(&app, &alice, &to).await;
    assert_eq!(s, 200);
    assert!(
        html.contains("cannot go from triggered to closed"),
        "the page shows why: {html}"
    );

    // A refused post (a viewer) also goes back with its error, and the refusal is audited.
    let (s, to) = post_form(
        &app,
        &dave,
        "incidents/note",
        &here,
        &[("id", &id), ("text", "not mine to write")],
    )
    .await;
    assert_eq!(s, 303, "{to}");
    assert!(to.contains("__err="), "{to}");
    let refused = app
        .state
        .store
        .audit_list(&Default::default())
        .await
        .expect("audit")
        .into_iter()
        .filter(|e| {
            e.entry.action == "request.refused" && e.entry.actor == "dave" && e.entry.target == "/api/v1/incidents/note"
        })
        .count();
    assert_eq!(refused, 1, "the refusal is in the audit log");
    let (_, view) = app.call_as(&alice, "incidents/get", &[("id", &id)]).await;
    assert!(!view.to_string().contains("not mine to write"));

    // Another site's Referer is not followed.
    let r = alice
        .post(format!("{}/api/v1/incidents/note", app.url))
        .header("accept", "text/html")
        .header("origin", &app.url)
        .header("referer", "https://evil.example/phish")
        .form(&[("id", id.as_str()), ("text", "from a strange referer")])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(r.headers()["location"], "/");

    // Scripts (no text/html) keep the status and the JSON error.
    let (s, body) = app
        .call_as(&alice, "incidents/status", &[("id", &id), ("to", "closed")])
        .await;
    assert!(s == 409 || s == 422, "{s} {body}");
    let (s, _) = app
        .call_as(&dave, "incidents/note", &[("id", &id), ("text", "x")])
        .await;
    assert_eq!(s, 403);
}

/// Activation without script posts to the request page, which answers with the credentials once
/// (`no-store`, uncompressed); the page read again has no secret; a second post is refused.
#[tokio::test]
async fn activation_posts_to_its_page_and_shows_the_credentials_once() {
    let app = spawn_app_with("").await;
    let alice = app.session_as("alice", "responder").await;
    let bob = app.session_as("bob", "approver").await;
    let (s, to) = post_form(
        &app,
        &alice,
        "access/request",
        "/access",
        &[
            ("environment", "taskflow-production"),
            ("profile", "prod-readonly"),
            ("reason", "read the orders table for INC-42"),
            ("minutes", "30"),
            ("ticket", "INC-42"),
        ],
    )
    .await;
    assert_eq!(s, 303, "{to}");
    let id = to
        .strip_prefix("/access/requests/")
        .expect("to the request")
        .to_string();
    let (s, to) = post_form(
        &app,
        &bob,
        "access/decide",
        &format!("/access/requests/{id}"),
        &[("id", &id), ("decision", "approve")],
    )
    .await;
    assert_eq!((s, to), (303, format!("/access/requests/{id}")));

    let activate = || {
        alice
            .post(format!("{}/access/requests/{id}", app.url))
            .header("accept", "text/html")
            .header("accept-encoding", "gzip, br")
            .header("origin", &app.url)
            .send()
    };
    let r = activate().await.expect("activate");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert!(
        r.headers().get("content-encoding").is_none(),
        "a secret's length is not compressed"
    );
    let html = r.text().await.expect("body");
    assert!(html.contains("data-testid=\"credentials\""), "{html}");
    assert!(html.contains("export AWS_ACCESS_KEY_ID=ASIADEMO"), "{html}");
    assert!(html.contains("<leptos-island"), "the countdown is an island");

    let (s, page_again) = page(&app, &alice, &format!("/access/requests/{id}")).await;
    assert_eq!(s, 200);
    assert!(!page_again.contains("AWS_SECRET_ACCESS_KEY"), "shown once");
    assert!(page_again.contains("active"), "the request is active");

    let r = activate().await.expect("activate again");
    assert_eq!(r.status().as_u16(), 409);
    let html = r.text().await.expect("body");
    assert!(!html.contains("AWS_SECRET_ACCESS_KEY"), "no second issue");
    assert!(html.contains("error-box"), "the refusal is on the page");
}

/// A secret shown once is never issued to a plain form post (server_fn would drop it for the
/// redirect), and scripts keep their JSON even when they accept HTML.
#[tokio::test]
async fn plain_form_posts_issue_no_secret_and_scripts_keep_json() {
    let app = spawn_app_with("").await;
    let carol = app.session_as("carol", "admin").await;
    let (s, to) = post_form(
        &app,
        &carol,
        "tokens/create",
        "/",
        &[("name", "ci"), ("role", "viewer"), ("days", "7")],
    )
    .await;
    assert_eq!(s, 303, "{to}");
    assert!(to.contains("__err="), "{to}");
    let (_, tokens) = app.call_as(&carol, "tokens/list", &[]).await;
    assert_eq!(tokens, serde_json::json!([]), "nothing was issued");

    // A script that accepts HTML but posts JSON-less with a token still gets its status.
    let (s, created) = app
        .call_as(
            &carol,
            "tokens/create",
            &[("name", "ci"), ("role", "viewer"), ("days", "7")],
        )
        .await;
    assert_eq!(s, 200, "{created}");
    let token = created["token"].as_str().expect("token").to_string();
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/incidents/status", app.url))
        .header("accept", "text/html,*/*")
        .bearer_auth(&token)
        .form(&[("id", "999999"), ("to", "closed")])
        .send()
        .await
        .expect("post");
    assert_eq!(
        r.status().as_u16(),
        403,
        "a viewer token is refused with its status, not a redirect"
    );
    assert!(r.headers().get("location").is_none());
    let body: serde_json::Value = r.json().await.expect("JSON, not a page");
    assert_eq!(body["error"], "forbidden", "{body}");

    // A browser-shaped post (urlencoded with a charset) is a form post: 303, and no token.
    let r = carol
        .post(format!("{}/api/v1/tokens/create", app.url))
        .header("accept", "text/html")
        .header("origin", &app.url)
        .header("content-type", "application/x-www-form-urlencoded; charset=utf-8")
        .body("name=ci2&role=viewer&days=7")
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 303, "a browser-shaped post is a form post");
    let (_, tokens) = app.call_as(&carol, "tokens/list", &[]).await;
    assert_eq!(
        tokens.as_array().map(Vec::len),
        Some(1),
        "only the script's token was issued: {tokens}"
    );
}
