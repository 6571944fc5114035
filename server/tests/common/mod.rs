//! Test support: the real console on port 0 with a fresh database, and fresh Postgres databases.
#![allow(dead_code)]

use app::ssr::config::Config;
use app::ssr::state::AppState;
use std::net::SocketAddr;
use tempfile::TempDir;

pub const TEST_AUDIT_KEY: &str = "test-audit-key-0123456789abcdef";

pub struct TestApp {
    pub url: String,
    pub state: AppState,
    pub client: reqwest::Client,
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
    let router = server::router(state.clone(), server::leptos_options(addr));
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
        _dir: None,
    }
}

fn write_key(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("audit.key");
    std::fs::write(&path, TEST_AUDIT_KEY).expect("key");
    path
}

impl TestApp {
    /// Calls a server function the way curl would (form-encoded POST), returning status and JSON.
    pub async fn call(&self, endpoint: &str, form: &[(&str, &str)]) -> (u16, serde_json::Value) {
        let r = self
            .client
            .post(format!("{}/api/v1/{endpoint}", self.url))
            .form(form)
            .send()
            .await
            .expect("request");
        let status = r.status().as_u16();
        let text = r.text().await.expect("body");
        let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
        (status, json)
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
