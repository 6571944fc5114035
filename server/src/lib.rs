//! The `ops-console` server: axum wiring around the Leptos app, the public endpoints, sessions,
//! the development login, the security layers and the background jobs.

pub mod assets;
pub mod audit_ops;
pub mod forms;
pub mod host;
pub mod http;
pub mod limits;

use app::ssr::config::{Config, ConfigError};
use app::ssr::state::{AppState, load_audit_key};
use app::ssr::store::{SqlStore, Store};
use axum::Router;
use axum::extract::FromRef;
use leptos::config::{Env, LeptosOptions};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// What axum handlers share.
#[derive(Clone)]
pub struct ServerState {
    pub leptos_options: LeptosOptions,
    pub app: AppState,
    /// The OIDC client, discovered on first use (and again after a failed discovery).
    pub oidc: Arc<tokio::sync::Mutex<Option<Arc<app::ssr::oidc::Oidc>>>>,
}

impl ServerState {
    pub async fn oidc(&self) -> Result<Arc<app::ssr::oidc::Oidc>, String> {
        let mut slot = self.oidc.lock().await;
        if let Some(o) = slot.as_ref() {
            return Ok(o.clone());
        }
        let o = Arc::new(app::ssr::oidc::Oidc::discover(&self.app.config).await?);
        *slot = Some(o.clone());
        Ok(o)
    }
}

impl FromRef<ServerState> for LeptosOptions {
    fn from_ref(s: &ServerState) -> LeptosOptions {
        s.leptos_options.clone()
    }
}

/// A reason the console cannot start, said in one line.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("database {url}: {message}")]
    Database { url: String, message: String },
    #[error("{0}")]
    Other(String),
}

/// Where the built site (`pkg/ops-console.<hash>.{js,wasm,css}`) is: `LEPTOS_SITE_ROOT`, else
/// `target/site`; the pages load the client under its content-hashed name (`assets::output_name`).
pub fn leptos_options(addr: SocketAddr) -> LeptosOptions {
    let site_root = std::env::var("LEPTOS_SITE_ROOT").unwrap_or_else(|_| "target/site".into());
    let pkg_dir = std::env::var("LEPTOS_SITE_PKG_DIR").unwrap_or_else(|_| "pkg".into());
    leptos_options_at(addr, site_root, pkg_dir)
}

/// `leptos_options` with the site given (tests, which run in the package's folder).
pub fn leptos_options_at(addr: SocketAddr, site_root: String, pkg_dir: String) -> LeptosOptions {
    let env = if std::env::var("LEPTOS_ENV").is_ok_and(|v| v.eq_ignore_ascii_case("dev")) {
        Env::DEV
    } else {
        Env::PROD
    };
    let output_name = assets::output_name(&PathBuf::from(&site_root).join(&pkg_dir));
    LeptosOptions::builder()
        .output_name(output_name)
        .site_root(site_root)
        .site_pkg_dir(pkg_dir)
        .site_addr(addr)
        .env(env)
        .build()
}

/// The data directory of the embedded SQLite database (where a dev audit key is kept too).
fn data_dir(config: &Config) -> PathBuf {
    if !config.is_postgres() {
        let path = config
            .database_url
            .trim_start_matches("sqlite://")
            .trim_start_matches("sqlite:");
        let path = path.split('?').next().unwrap_or_default();
        if let Some(parent) = std::path::Path::new(path)
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
        {
            return parent.to_path_buf();
        }
    }
    PathBuf::from("data")
}

/// Opens and migrates the database; the store seals audit entries with `audit_key` (empty: it
/// writes none, as for `migrate`).
pub async fn open_store(config: &Config, audit_key: Vec<u8>) -> Result<Arc<dyn Store>, StartError> {
    let url = app::ssr::config::redact_url(&config.database_url);
    let store = SqlStore::connect(&config.database_url)
        .await
        .map_err(|e| StartError::Database {
            url: url.clone(),
            message: e.to_string(),
        })?
        .with_audit_key(audit_key);
    store.migrate().await.map_err(|e| StartError::Database {
        url,
        message: e.to_string(),
    })?;
    Ok(store.into_arc())
}

/// Opens and migrates the database and assembles the state.
pub async fn build_state(config: Config) -> Result<AppState, StartError> {
    let key = load_audit_key(&config, &data_dir(&config)).map_err(StartError::Other)?;
    let store = open_store(&config, key.clone()).await?;
    Ok(AppState::new(config, store, key))
}

/// State for `ops-console status`: the configured and demo environments, with an in-memory
/// database (the check reads AWS, not the console's records).
pub async fn status_state(config: Config) -> Result<AppState, StartError> {
    let store = SqlStore::connect("sqlite::memory:")
        .await
        .map_err(|e| StartError::Other(format!("in-memory store: {e}")))?;
    Ok(AppState::new(config, store.into_arc(), Vec::new()))
}

/// The whole HTTP application.
pub fn router(state: AppState, leptos_options: LeptosOptions) -> Router {
    http::router(ServerState {
        leptos_options,
        app: state,
        oidc: Arc::new(tokio::sync::Mutex::new(None)),
    })
}

/// Background jobs of one replica: expired sessions are removed every ten minutes; the alarm
/// poller, the outbox and the rollback watch run under a lease (one replica at a time).
pub fn spawn_jobs(state: AppState) {
    app::ssr::jobs::spawn_all(state.clone());
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(600));
        loop {
            tick.tick().await;
            let now = app::ssr::clock::now();
            match state.store.session_delete_expired(now).await {
                Ok(n) if n > 0 => tracing::info!(removed = n, "expired sessions removed"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "could not remove expired sessions"),
            }
        }
    });
}

/// Serves until ctrl-c / SIGTERM.
pub async fn serve(config: Config) -> Result<(), StartError> {
    let addr = config.listen_addr()?;
    let state = build_state(config).await?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| StartError::Other(format!("listen {addr}: {e}")))?;
    tracing::info!(%addr, environments = state.environments().len(), backend = state.store.backend().label(), "serving");
    spawn_jobs(state.clone());
    let http = state.config.http.clone();
    let app = router(state.clone(), leptos_options(addr));
    // On SIGTERM: /readyz answers 503 and the jobs give their leases back at once; requests are
    // still served for the drain time (the load balancer sees the 503 and stops sending), then
    // the listener closes and requests in flight get the grace time to finish.
    let (closed_tx, closed_rx) = tokio::sync::oneshot::channel::<()>();
    let drain = Duration::from_secs(u64::from(http.shutdown_drain_seconds));
    let grace = Duration::from_secs(u64::from(http.shutdown_grace_seconds));
    let stopping = state.clone();
    let close = async move {
        shutdown_signal().await;
        stopping.stopping.send_replace(true);
        tracing::info!(drain_s = drain.as_secs(), "draining: /readyz answers 503");
        tokio::time::sleep(drain).await;
        tracing::info!(
            grace_s = grace.as_secs(),
            "closing the listener; finishing requests in flight"
        );
        let _ = closed_tx.send(());
    };
    let server =
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).with_graceful_shutdown(close);
    let bounded = async move {
        let _ = closed_rx.await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        r = server => r.map_err(|e| StartError::Other(format!("server: {e}")))?,
        _ = bounded => tracing::warn!("requests still in flight after the grace time; exiting"),
    }
    // The jobs' leases: give them a moment to be handed back (each job stops after its round).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while tokio::time::Instant::now() < deadline && state.stopping.receiver_count() > 0 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
