//! Test support: the real console on port 0 with a fresh database, and fresh Postgres databases.
#![allow(dead_code)]

pub mod aws_proxy;

use app::ssr::config::Config;
use app::ssr::state::AppState;
use std::net::SocketAddr;
use tempfile::TempDir;

pub const TEST_AUDIT_KEY: &str = "test-audit-key-0123456789abcdef";

pub struct TestApp {
    pub url: String,
    pub state: AppState,
    pub client: reqwest::Client,
    db: std::path::PathBuf,
    _dir: Option<TempDir>,
}

/// A config for tests: the embedded defaults with a database in `dir`, plus `extra` TOML.
pub fn test_config(db_url: &str, extra: &str) -> Config {
    let text = format!("database_url = \"{db_url}\"\n{extra}");
    let vars = vec![("OPS_CONSOLE_AUDIT_KEY".to_string(), TEST_AUDIT_KEY.to_string())];
    Config::from_toml_with_overrides(&text, "test", &vars).expect("test config")
}

/// Starts the real router on 127.0.0.1:0 with a fresh SQLite database.
pub async fn spawn_app() -> TestApp {
    spawn_app_with("").await
}

/// `extra` is TOML added to the config; `{APP}` in it stands for the console's own URL.
pub async fn spawn_app_with(extra: &str) -> TestApp {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().to_path_buf();
    let mut app = spawn_app_in(&path, extra).await;
    app._dir = Some(dir);
    app
}

/// The console on a database (and audit key) in `dir`: two of these on one `dir` are the same
/// console restarted.
pub async fn spawn_app_in(dir: &std::path::Path, extra: &str) -> TestApp {
    let db = format!("sqlite://{}/console.db", dir.display());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr: SocketAddr = listener.local_addr().expect("addr");
    let mut config = test_config(&db, &extra.replace("{APP}", &format!("http://{addr}")));
    config.audit.key_file = Some(write_key(dir));
    let state = server::build_state(config).await.expect("state");
    server::spawn_jobs(state.clone());
    let router = server::router(
        state.clone(),
        server::leptos_options_at(addr, site_root(), "pkg".into()),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>()).await;
    });
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    TestApp {
        url: format!("http://{addr}"),
        state,
        client,
        db: dir.join("console.db"),
        _dir: None,
    }
}

/// Calls the server function `endpoint` of the console at `base` as `client`, with `origin` as a
/// browser page of that origin would send it: the status and the JSON (or the text) answered.
pub async fn call_at(
    client: &reqwest::Client,
    base: &str,
    origin: Option<&str>,
    endpoint: &str,
    form: &[(&str, &str)],
) -> (u16, serde_json::Value) {
    let mut req = client.post(format!("{base}/api/v1/{endpoint}"));
    if let Some(origin) = origin {
        req = req.header("origin", origin);
    }
    let r = req.form(form).send().await.expect("request");
    let status = r.status().as_u16();
    let text = r.text().await.expect("body");
    let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
    (status, json)
}

/// A fresh browser (its own cookie jar) signed in by the dev login of the console at `base`.
pub async fn dev_session(base: &str, origin: &str, user: &str, role: &str) -> reqwest::Client {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let r = client
        .post(format!("{base}/auth/dev-login"))
        .header("origin", origin)
        .form(&[("user", user), ("role", role), ("next", "/")])
        .send()
        .await
        .expect("login");
    assert_eq!(r.status().as_u16(), 303, "dev login of {user}");
    client
}

/// The site `make site` built (`target/site` at the workspace root; tests run in `server/`).
pub fn site_root() -> String {
    format!("{}/../target/site", env!("CARGO_MANIFEST_DIR"))
}

/// The content-hashed name of the client the build wrote (`scripts/assets.sh`).
pub fn asset_name() -> String {
    std::fs::read_to_string(format!("{}/pkg/hashed-name", site_root()))
        .expect("target/site/pkg/hashed-name: run `make site` first")
        .trim()
        .to_string()
}

fn write_key(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("audit.key");
    std::fs::write(&path, TEST_AUDIT_KEY).expect("key");
    path
}

impl TestApp {
    /// The SQLite file of this console (tests that age rows directly).
    pub fn db_path(&self) -> &std::path::Path {
        &self.db
    }

    /// Calls a server function the way curl would (form-encoded POST), returning status and JSON.
    pub async fn call(&self, endpoint: &str, form: &[(&str, &str)]) -> (u16, serde_json::Value) {
        call_at(&self.client, &self.url, None, endpoint, form).await
    }

    /// GETs a path of the console: status and body.
    pub async fn page(&self, path: &str) -> (u16, String) {
        let r = self
            .client
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .expect("GET");
        let status = r.status().as_u16();
        (status, r.text().await.expect("body"))
    }

    /// Another browser: a fresh client signed in (dev mode) as `user` with `role`.
    pub async fn session_as(&self, user: &str, role: &str) -> reqwest::Client {
        dev_session(&self.url, &self.url, user, role).await
    }

    /// Calls a server function with another client (another person).
    pub async fn call_as(
        &self,
        client: &reqwest::Client,
        endpoint: &str,
        form: &[(&str, &str)],
    ) -> (u16, serde_json::Value) {
        call_at(client, &self.url, Some(&self.url), endpoint, form).await
    }

    pub async fn dev_login(&self, user: &str, role: &str) -> reqwest::Response {
        self.client
            .post(format!("{}/auth/dev-login", self.url))
            .header("origin", &self.url)
            .form(&[("user", user), ("role", role), ("next", "/")])
            .send()
            .await
            .expect("login")
    }
}

/// A fresh, empty database on the test Postgres (`OPS_CONSOLE_TEST_POSTGRES_URL`, set by
/// scripts/test.sh, which starts Debian's PostgreSQL on loopback).
pub async fn fresh_postgres() -> String {
    use sqlx::Connection;
    let base = std::env::var("OPS_CONSOLE_TEST_POSTGRES_URL")
        .expect("OPS_CONSOLE_TEST_POSTGRES_URL is not set: run the tests with `make test`, which starts PostgreSQL");
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&base)
        .await
        .expect("connect to the test postgres");
    let name = format!("t_{:016x}", rand::random::<u64>());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("create database");
    let (prefix, _) = base.rsplit_once('/').expect("url with a database");
    format!("{prefix}/{name}")
}

/// The Slack receiver of the test tooling: an incoming-webhook stand-in on loopback that refuses
/// the first `refuse` posts with 503 and records the Block Kit JSON of the others.
pub struct SlackReceiver {
    pub url: String,
    pub received: std::sync::Arc<std::sync::Mutex<Vec<(String, serde_json::Value)>>>,
    pub refused: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    /// While true, every post is refused with 503 and `Retry-After: 1` (Slack down).
    pub down: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl SlackReceiver {
    pub async fn start(refuse: usize) -> SlackReceiver {
        use std::sync::atomic::Ordering;
        let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let refused = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let down = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (rec, cnt, is_down) = (received.clone(), refused.clone(), down.clone());
        let handler = move |headers: axum::http::HeaderMap, body: String| {
            let (rec, cnt, is_down) = (rec.clone(), cnt.clone(), is_down.clone());
            async move {
                let unavailable = (
                    axum::http::StatusCode::SERVICE_UNAVAILABLE,
                    [(axum::http::header::RETRY_AFTER, "1")],
                    "down",
                );
                if is_down.load(Ordering::SeqCst) {
                    cnt.fetch_add(1, Ordering::SeqCst);
                    return axum::response::IntoResponse::into_response(unavailable);
                }
                if cnt.load(Ordering::SeqCst) < refuse {
                    cnt.fetch_add(1, Ordering::SeqCst);
                    return axum::response::IntoResponse::into_response((
                        axum::http::StatusCode::SERVICE_UNAVAILABLE,
                        "down",
                    ));
                }
                let key = headers
                    .get("x-idempotency-key")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                let json = serde_json::from_str(&body).unwrap_or(serde_json::Value::Null);
                rec.lock().expect("lock").push((key, json));
                axum::response::IntoResponse::into_response((axum::http::StatusCode::OK, "ok"))
            }
        };
        let router = axum::Router::new().route("/hook", axum::routing::post(handler));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        SlackReceiver {
            url: format!("http://{addr}/hook"),
            received,
            refused,
            down,
        }
    }

    /// The messages received so far.
    pub fn messages(&self) -> Vec<(String, serde_json::Value)> {
        self.received.lock().expect("lock").clone()
    }

    /// A file holding the webhook URL, for `webhook_url_file`.
    pub fn url_file(&self, dir: &std::path::Path) -> std::path::PathBuf {
        let p = dir.join(format!("hook-{:08x}", rand::random::<u32>()));
        std::fs::write(&p, &self.url).expect("hook file");
        p
    }
}

/// Polls `check` every 100 ms until it returns Some or `within` passes (readiness, not a sleep).
pub async fn eventually<T, F, Fut>(within: std::time::Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = std::time::Instant::now();
    loop {
        if let Some(v) = check().await {
            return Some(v);
        }
        if start.elapsed() > within {
            return None;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// The test OpenID provider (oidc-provider-mock, started by scripts/test.sh).
pub fn oidc_provider() -> String {
    std::env::var("OPS_CONSOLE_TEST_OIDC_URL")
        .expect("OPS_CONSOLE_TEST_OIDC_URL is not set: run the tests with `make test`, which starts oidc-provider-mock")
}

/// Adds (or replaces) a user at the provider.
pub async fn oidc_user(issuer: &str, sub: &str, claims: serde_json::Value) {
    let r = reqwest::Client::new()
        .put(format!("{issuer}/users/{sub}"))
        .json(&claims)
        .send()
        .await
        .expect("PUT user");
    assert!(r.status().is_success(), "{}", r.status());
}

/// A new browser that signs `sub` in through the provider, starting at `GET /login?next=`.
/// Returns the client and where the console sent it after the callback.
pub async fn oidc_session(app: &TestApp, sub: &str, next: &str) -> (reqwest::Client, String) {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let loc = |r: &reqwest::Response| {
        r.headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let next: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
    let r = client
        .get(format!("{}/login?next={next}", app.url))
        .send()
        .await
        .expect("login");
    let authorize = loc(&r);
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .post(&authorize)
        .form(&[("sub", sub)])
        .send()
        .await
        .expect("authorize");
    let callback = loc(&r);
    let r = client.get(callback).send().await.expect("callback");
    assert_eq!(r.status().as_u16(), 303, "sign-in of {sub}");
    let target = loc(&r);
    (client, target)
}

/// The moto endpoint scripts/test.sh started.
pub fn moto_url() -> String {
    std::env::var("OPS_CONSOLE_TEST_MOTO_URL")
        .expect("OPS_CONSOLE_TEST_MOTO_URL is not set: run the tests with `make test`, which starts moto")
}

/// SDK config for seeding moto directly (us-east-1).
pub async fn moto_sdk(moto: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(moto)
        .load()
        .await
}

/// An ECS service of its own in moto, running revision 2 of a family with two revisions.
pub struct TwoRevisions {
    pub cluster: String,
    pub service: String,
    pub family: String,
    /// The ARNs of revision 1 and revision 2.
    pub arns: Vec<String>,
}

pub async fn ecs_service_on_revision_2(ecs: &aws_sdk_ecs::Client, prefix: &str) -> TwoRevisions {
    let tag = format!("{:08x}", rand::random::<u32>());
    let (cluster, service, family) = (
        format!("{prefix}-{tag}"),
        format!("api-{tag}"),
        format!("{prefix}-api-{tag}"),
    );
    ecs.create_cluster()
        .cluster_name(&cluster)
        .send()
        .await
        .expect("cluster");
    let mut arns = Vec::new();
    for version in ["1.4.0", "1.5.0"] {
        let td = ecs
            .register_task_definition()
            .family(&family)
            .container_definitions(
                aws_sdk_ecs::types::ContainerDefinition::builder()
                    .name("api")
                    .image(format!("taskflow/api:{version}"))
                    .memory(512)
                    .build(),
            )
            .send()
            .await
            .expect("task definition");
        arns.push(
            td.task_definition()
                .and_then(|t| t.task_definition_arn())
                .expect("arn")
                .to_string(),
        );
    }
    ecs.create_service()
        .cluster(&cluster)
        .service_name(&service)
        .task_definition(&arns[1])
        .desired_count(1)
        .send()
        .await
        .expect("service");
    TwoRevisions {
        cluster,
        service,
        family,
        arns,
    }
}

/// `ops-console status --env ENV --json` on a config file: its exit code and its one JSON line.
pub fn status_cli(config_path: &std::path::Path, env: &str) -> (Option<i32>, serde_json::Value) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ops-console"))
        .args(["status", "--env", env, "--json", "--config"])
        .arg(config_path)
        .env("OPS_CONSOLE_AUDIT_KEY", TEST_AUDIT_KEY)
        .output()
        .expect("run status");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(
        stdout.lines().count(),
        1,
        "exactly one JSON document on stdout: {stdout}"
    );
    (out.status.code(), serde_json::from_str(&stdout).expect("status JSON"))
}

/// What the proxy in front of moto does with one call.
pub enum Hold {
    Pass,
    /// Holds the call this long, then passes it on: the injected delay that opens a race wide.
    For(std::time::Duration),
    /// Holds the call until the test says so (or the time given passes), then passes it on.
    Until(std::sync::Arc<tokio::sync::Notify>, std::time::Duration),
    /// Answers IAM's "done" without passing it on: a write that is acknowledged and lost.
    Lose,
    /// Passes it on and changes moto's answer (a state moto cannot reach, such as a failed stack).
    Rewrite(fn(String) -> String),
    /// Answers 403 with this AWS error code (a REST/JSON service refusing the read role).
    Refuse(&'static str),
    /// Answers 200 with this JSON body (awsJson 1.1) without passing it on: a call moto lacks
    /// (CloudTrail LookupEvents), answered with what the test recorded.
    Answer(String),
}

pub type Rule = std::sync::Arc<dyn Fn(&str) -> Hold + Send + Sync>;

/// moto behind a proxy that treats each call as `rule` says from its body (`Action=…`), or for a
/// call without a body (the reads of REST services), from `METHOD /path`.
pub async fn proxied_moto(moto: String, rule: Rule) -> String {
    use axum::http::header;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let client = reqwest::Client::new();
    let router = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let (client, moto, rule) = (client.clone(), moto.clone(), rule.clone());
        async move {
            let (parts, body) = req.into_parts();
            let body = axum::body::to_bytes(body, usize::MAX).await.expect("body");
            let mut rewrite: Option<fn(String) -> String> = None;
            let seen = if body.is_empty() {
                format!("{} {}", parts.method, parts.uri.path())
            } else {
                String::from_utf8_lossy(&body).into_owned()
            };
            match rule(&seen) {
                Hold::Pass => {}
                Hold::Refuse(code) => {
                    return axum::http::Response::builder()
                        .status(403)
                        .header(header::CONTENT_TYPE, "application/json")
                        .header("x-amzn-ErrorType", code)
                        .body(axum::body::Body::from(format!(
                            r#"{{"__type":"{code}","Message":"the read role may not do this (set by the test)"}}"#
                        )))
                        .expect("response");
                }
                Hold::Answer(json) => {
                    return axum::http::Response::builder()
                        .status(200)
                        .header(header::CONTENT_TYPE, "application/x-amz-json-1.1")
                        .body(axum::body::Body::from(json))
                        .expect("response");
                }
                Hold::Rewrite(f) => rewrite = Some(f),
                Hold::For(d) => tokio::time::sleep(d).await,
                Hold::Until(go, at_most) => {
                    let _ = tokio::time::timeout(at_most, go.notified()).await;
                }
                Hold::Lose => {
                    let action = String::from_utf8_lossy(&body)
                        .split('&')
                        .find_map(|kv| kv.strip_prefix("Action=").map(str::to_string))
                        .unwrap_or_default();
                    return axum::http::Response::builder()
                        .status(200)
                        .header(header::CONTENT_TYPE, "text/xml")
                        .body(axum::body::Body::from(format!(
                            r#"<{action}Response xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ResponseMetadata><RequestId>lost</RequestId></ResponseMetadata></{action}Response>"#
                        )))
                        .expect("response");
                }
            }
            let path = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
            let mut fwd = client.request(parts.method, format!("{moto}{path}")).body(body);
            for (k, v) in &parts.headers {
                if k != header::HOST && k != header::CONTENT_LENGTH {
                    fwd = fwd.header(k, v);
                }
            }
            let r = fwd.send().await.expect("moto answers");
            let mut out = axum::http::Response::builder().status(r.status());
            for (k, v) in r.headers() {
                if k != header::TRANSFER_ENCODING && k != header::CONTENT_LENGTH {
                    out = out.header(k, v);
                }
            }
            let bytes = r.bytes().await.expect("moto body");
            let bytes = match rewrite {
                Some(f) => f(String::from_utf8_lossy(&bytes).into_owned()).into_bytes().into(),
                None => bytes,
            };
            out.body(axum::body::Body::from(bytes)).expect("response")
        }
    });
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    url
}

/// The moto tests that seed much (functions, stacks, metric data) and the ones whose reads must
/// answer within the parts' 4 s take turns: on two cores, moto (one Python process) answering a
/// burst of writes can hold a read past its timeout.
pub async fn moto_turn() -> tokio::sync::MutexGuard<'static, ()> {
    static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    TURN.lock().await
}
