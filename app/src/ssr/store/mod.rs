//! Storage: one `Store` interface, one SQL implementation that speaks to SQLite or Postgres
//! through sqlx's `Any` driver with runtime queries (no compile-time database: the build needs no
//! live database, see docs/ARCHITECTURE.md), the backend picked from the database URL, migrations
//! per backend.
//!
//! Placeholders are written `$1, $2…`, which both SQLite and Postgres accept. Timestamps are
//! BIGINT unix milliseconds and flags are BIGINT 0/1 so that both backends decode the same way.
//!
//! One file per family of tables, each with its own trait: `users` (users, sessions, API
//! tokens), `audit`, `incidents` (incidents and their timelines), `rollbacks`, `outbox`,
//! `leases`, `alarm_states` and `access` (requests, approvals, grants). `effects` holds what
//! several families write together in one transaction. `Store` is all of them at once; bring the
//! traits into scope with `use …::store::prelude::*` to call them on a concrete `SqlStore`.

mod access;
mod alarm_states;
mod audit;
mod effects;
mod incidents;
mod leases;
mod outbox;
mod rollbacks;
mod users;

pub use access::{AccessRequestRecord, AccessStore, ApprovalRecord, Decided, DecidedEffects, GrantRecord};
pub use alarm_states::AlarmStateStore;
pub use audit::{AuditFilter, AuditStore};
pub use effects::{AccessChange, Change, Effects, EffectsFor, IncidentChange};
pub use incidents::{IncidentRecord, IncidentStore, NewTimelineEntry, TimelineRecord};
pub use leases::LeaseStore;
pub use outbox::{NewOutbox, OutboxRow, OutboxStore};
pub use rollbacks::{RollbackRecord, RollbackStore, UPDATE_BEING_SENT, UPDATE_SENT};
pub use users::{RevocationAudit, TokenRecord, TokenRevocation, UserRecord, UserStore};

/// Every store trait, for `use …::store::prelude::*` where methods are called on a concrete
/// `SqlStore` (on `dyn Store` they are callable without it).
pub mod prelude {
    pub use super::{
        AccessStore, AlarmStateStore, AuditStore, IncidentStore, LeaseStore, OutboxStore, RollbackStore, Store,
        UserStore,
    };
}

use crate::ssr::audit::{AuditRecord, NewAuditEntry};
use async_trait::async_trait;
use sqlx::AnyPool;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0}")]
    Other(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Result<Backend, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::Other(
                "database URL must start with sqlite:// or postgres://".into(),
            ))
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// The whole storage interface: every family of tables, plus the database itself.
#[async_trait]
pub trait Store:
    UserStore
    + AuditStore
    + IncidentStore
    + RollbackStore
    + OutboxStore
    + LeaseStore
    + AlarmStateStore
    + AccessStore
    + Send
    + Sync
{
    fn backend(&self) -> Backend;
    /// Applies the migrations of this backend.
    async fn migrate(&self) -> Result<(), StoreError>;
    /// A round trip to the database (readiness).
    async fn ping(&self) -> Result<(), StoreError>;
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

/// Advisory-lock key that serialises audit appends across console replicas on one Postgres.
const AUDIT_LOCK_KEY: i64 = 0x6f70_735f_6175_6474; // "ops_audt"

pub struct SqlStore {
    pool: AnyPool,
    backend: Backend,
    append_lock: tokio::sync::Mutex<()>,
    /// Audit entries waiting to be appended: whoever holds `append_lock` next writes all of them
    /// in one transaction (group commit), so concurrent appends share one commit.
    queued: std::sync::Mutex<Vec<Queued>>,
    /// The HMAC key of the audit chain: the store seals every entry it writes with it, so no
    /// caller passes (or can pass a wrong) key. Empty until `with_audit_key`; then every write
    /// that carries an audit entry is refused (fail closed).
    audit_key: Vec<u8>,
}

type Queued = (
    Vec<u8>,
    NewAuditEntry,
    tokio::sync::oneshot::Sender<Result<AuditRecord, String>>,
);

impl SqlStore {
    /// Connects (creating the SQLite file and its directory when missing).
    pub async fn connect(url: &str) -> Result<SqlStore, StoreError> {
        install_default_drivers();
        let backend = Backend::from_url(url)?;
        let mut url = url.to_string();
        if backend == Backend::Sqlite {
            let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
            let path = path.split('?').next().unwrap_or_default().to_string();
            if path != ":memory:"
                && let Some(dir) = std::path::Path::new(&path)
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
            {
                std::fs::create_dir_all(dir)
                    .map_err(|e| StoreError::Other(format!("cannot create {}: {e}", dir.display())))?;
            }
            if !url.contains("mode=") {
                url.push_str(if url.contains('?') { "&mode=rwc" } else { "?mode=rwc" });
            }
        }
        let options = sqlx::any::AnyConnectOptions::from_str(&url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 4 } else { 10 })
            .acquire_timeout(Duration::from_secs(5))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        sqlx::query("PRAGMA journal_mode = WAL").execute(&mut *conn).await?;
                        sqlx::query("PRAGMA busy_timeout = 5000").execute(&mut *conn).await?;
                        sqlx::query("PRAGMA foreign_keys = ON").execute(&mut *conn).await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        Ok(SqlStore {
            pool,
            backend,
            append_lock: tokio::sync::Mutex::new(()),
            queued: std::sync::Mutex::new(Vec::new()),
            audit_key: Vec::new(),
        })
    }

    /// The store seals audit entries with `key` (see `audit_key`).
    pub fn with_audit_key(mut self, key: Vec<u8>) -> SqlStore {
        self.audit_key = key;
        self
    }

    pub fn into_arc(self) -> Arc<dyn Store> {
        Arc::new(self)
    }
}

#[async_trait]
impl Store for SqlStore {
    fn backend(&self) -> Backend {
        self.backend
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&self.pool).await?;
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

impl SqlStore {
    /// Writes queued audit entries in one transaction, in queue order, and answers each waiter.
    async fn write_batch(&self, batch: Vec<Queued>) {
        let written = async {
            let mut tx = self.begin_locked().await?;
            let entries: Vec<(&[u8], NewAuditEntry)> =
                batch.iter().map(|(k, e, _)| (k.as_slice(), e.clone())).collect();
            let records = SqlStore::audit_in_many(&mut tx, entries).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(records)
        }
        .await;
        match written {
            Ok(records) => {
                for ((_, _, done), r) in batch.into_iter().zip(records) {
                    let _ = done.send(Ok(r));
                }
            }
            Err(e) => {
                let text = e.to_string();
                for (_, _, done) in batch {
                    let _ = done.send(Err(text.clone()));
                }
            }
        }
    }

    /// A write transaction that holds the audit append order: the in-process lock, `BEGIN
    /// IMMEDIATE` on SQLite (the write lock is taken at once, so a read-then-write never fails
    /// with SQLITE_BUSY mid-way) and the advisory lock on Postgres.
    pub(crate) async fn write_tx(
        &self,
    ) -> Result<(tokio::sync::MutexGuard<'_, ()>, sqlx::Transaction<'static, sqlx::Any>), StoreError> {
        let serial = self.append_lock.lock().await;
        let tx = self.begin_locked().await?;
        Ok((serial, tx))
    }

    /// The transaction of `write_tx`, for a caller that already holds `append_lock`.
    async fn begin_locked(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        let mut tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(AUDIT_LOCK_KEY)
                .execute(&mut *tx)
                .await?;
        }
        Ok(tx)
    }
}
