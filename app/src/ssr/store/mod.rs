//! Storage: one `Store` interface, one SQL implementation that speaks to SQLite or Postgres
//! through sqlx's `Any` driver with runtime queries (no compile-time database, see
//! shared/DESIGN.md), the backend picked from the database URL, migrations per backend.
//!
//! Placeholders are written `$1, $2…`, which both SQLite and Postgres accept. Timestamps are
//! BIGINT unix milliseconds and flags are BIGINT 0/1 so that both backends decode the same way.

use super::audit::{self, AuditRecord, NewAuditEntry};
use async_trait::async_trait;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Row};
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub subject: String,
    pub email: String,
    pub name: String,
    pub first_seen_ms: i64,
    pub last_login_ms: i64,
    /// Roles at the last login, comma-separated.
    pub roles: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub id: String,
    pub name: String,
    pub role: String,
    pub token_hash: String,
    pub created_by: String,
    pub created_ms: i64,
    pub expires_ms: i64,
    pub revoked_ms: Option<i64>,
    pub last_used_ms: Option<i64>,
}

/// Filters for listing audit entries, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub since_ms: Option<i64>,
    pub limit: i64,
}

mod access;
mod incidents;
pub use access::{AccessRequestRecord, AccessStore, ApprovalRecord, Decided, DecidedEffects, GrantRecord};
pub use incidents::{
    Effects, EffectsFor, IncidentRecord, IncidentStore, NewOutbox, NewTimelineEntry, OutboxRow, Patch, RollbackRecord,
    TimelineRecord,
};

#[async_trait]
pub trait Store: IncidentStore + AccessStore + Send + Sync {
    fn backend(&self) -> Backend;
    /// Applies the migrations of this backend.
    async fn migrate(&self) -> Result<(), StoreError>;
    /// A round trip to the database (readiness).
    async fn ping(&self) -> Result<(), StoreError>;

    /// Records a login; returns the user as they were before it (None: first login).
    async fn upsert_user(
        &self,
        subject: &str,
        email: &str,
        name: &str,
        roles: &str,
        now_ms: i64,
    ) -> Result<Option<UserRecord>, StoreError>;
    async fn user(&self, subject: &str) -> Result<Option<UserRecord>, StoreError>;

    async fn session_load(&self, id: &str, now_ms: i64) -> Result<Option<String>, StoreError>;
    async fn session_save(&self, id: &str, data: &str, expiry_ms: i64) -> Result<(), StoreError>;
    /// Inserts only when the id is new; false when it already exists.
    async fn session_create(&self, id: &str, data: &str, expiry_ms: i64) -> Result<bool, StoreError>;
    async fn session_delete(&self, id: &str) -> Result<(), StoreError>;
    async fn session_delete_expired(&self, now_ms: i64) -> Result<u64, StoreError>;

    /// Appends to the HMAC chain. Appends are serialised (in process, and across replicas by an
    /// advisory lock on Postgres); the entry is committed before this returns.
    async fn token_create(&self, t: &TokenRecord) -> Result<(), StoreError>;
    async fn token_get(&self, id: &str) -> Result<Option<TokenRecord>, StoreError>;
    async fn token_list(&self) -> Result<Vec<TokenRecord>, StoreError>;
    /// False when there was no such unrevoked token.
    async fn token_revoke(&self, id: &str, now_ms: i64) -> Result<bool, StoreError>;
    async fn token_touch(&self, id: &str, now_ms: i64) -> Result<(), StoreError>;

    async fn audit_append(&self, key: &[u8], entry: NewAuditEntry) -> Result<AuditRecord, StoreError>;
    async fn audit_list(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>, StoreError>;
    /// Every entry in chain order, for verification and export.
    async fn audit_all(&self, since_ms: Option<i64>) -> Result<Vec<AuditRecord>, StoreError>;
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
        })
    }

    pub fn into_arc(self) -> Arc<dyn Store> {
        Arc::new(self)
    }

    fn audit_from_row(row: &sqlx::any::AnyRow) -> Result<AuditRecord, sqlx::Error> {
        Ok(AuditRecord {
            seq: row.try_get("seq")?,
            entry: NewAuditEntry {
                ts_ms: row.try_get("ts_ms")?,
                actor: row.try_get("actor")?,
                action: row.try_get("action")?,
                target: row.try_get("target")?,
                outcome: row.try_get("outcome")?,
                detail: row.try_get("detail")?,
                request_id: row.try_get("request_id")?,
            },
            prev_mac: row.try_get("prev_mac")?,
            mac: row.try_get("mac")?,
        })
    }
}

const TOKEN_COLUMNS: &str = "id, name, role, token_hash, created_by, created_ms, expires_ms, revoked_ms, last_used_ms";

fn token_from_row(r: &sqlx::any::AnyRow) -> Result<TokenRecord, sqlx::Error> {
    Ok(TokenRecord {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        role: r.try_get("role")?,
        token_hash: r.try_get("token_hash")?,
        created_by: r.try_get("created_by")?,
        created_ms: r.try_get("created_ms")?,
        expires_ms: r.try_get("expires_ms")?,
        revoked_ms: r.try_get("revoked_ms")?,
        last_used_ms: r.try_get("last_used_ms")?,
    })
}

const AUDIT_COLUMNS: &str = "seq, ts_ms, actor, action, target, outcome, detail, request_id, prev_mac, mac";

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

    async fn upsert_user(
        &self,
        subject: &str,
        email: &str,
        name: &str,
        roles: &str,
        now_ms: i64,
    ) -> Result<Option<UserRecord>, StoreError> {
        let before = self.user(subject).await?;
        sqlx::query(
            "INSERT INTO users (subject, email, name, roles, first_seen_ms, last_login_ms) VALUES ($1, $2, $3, $4, $5, $5) \
             ON CONFLICT (subject) DO UPDATE SET email = excluded.email, name = excluded.name, roles = excluded.roles, \
             last_login_ms = excluded.last_login_ms",
        )
        .bind(subject)
        .bind(email)
        .bind(name)
        .bind(roles)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(before)
    }

    async fn user(&self, subject: &str) -> Result<Option<UserRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT subject, email, name, roles, first_seen_ms, last_login_ms FROM users WHERE subject = $1",
        )
        .bind(subject)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(UserRecord {
                subject: r.try_get("subject")?,
                email: r.try_get("email")?,
                name: r.try_get("name")?,
                roles: r.try_get("roles")?,
                first_seen_ms: r.try_get("first_seen_ms")?,
                last_login_ms: r.try_get("last_login_ms")?,
            })
        })
        .transpose()
        .map_err(StoreError::Db)
    }

    async fn session_load(&self, id: &str, now_ms: i64) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT data FROM sessions WHERE id = $1 AND expiry_ms > $2")
            .bind(id)
            .bind(now_ms)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("data")).transpose()?)
    }

    async fn session_save(&self, id: &str, data: &str, expiry_ms: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sessions (id, data, expiry_ms) VALUES ($1, $2, $3) \
             ON CONFLICT (id) DO UPDATE SET data = excluded.data, expiry_ms = excluded.expiry_ms",
        )
        .bind(id)
        .bind(data)
        .bind(expiry_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn session_create(&self, id: &str, data: &str, expiry_ms: i64) -> Result<bool, StoreError> {
        let done =
            sqlx::query("INSERT INTO sessions (id, data, expiry_ms) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING")
                .bind(id)
                .bind(data)
                .bind(expiry_ms)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn session_delete(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn session_delete_expired(&self, now_ms: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM sessions WHERE expiry_ms <= $1")
            .bind(now_ms)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn token_create(&self, t: &TokenRecord) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "INSERT INTO api_tokens ({TOKEN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, NULL)"
        ))
        .bind(&t.id)
        .bind(&t.name)
        .bind(&t.role)
        .bind(&t.token_hash)
        .bind(&t.created_by)
        .bind(t.created_ms)
        .bind(t.expires_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn token_get(&self, id: &str) -> Result<Option<TokenRecord>, StoreError> {
        let row = sqlx::query(&format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(token_from_row).transpose()?)
    }

    async fn token_list(&self) -> Result<Vec<TokenRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens ORDER BY created_ms DESC"
        ))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(token_from_row).collect::<Result<_, _>>()?)
    }

    async fn token_revoke(&self, id: &str, now_ms: i64) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE api_tokens SET revoked_ms = $2 WHERE id = $1 AND revoked_ms IS NULL")
            .bind(id)
            .bind(now_ms)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn token_touch(&self, id: &str, now_ms: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE api_tokens SET last_used_ms = $2 WHERE id = $1")
            .bind(id)
            .bind(now_ms)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn audit_append(&self, key: &[u8], entry: NewAuditEntry) -> Result<AuditRecord, StoreError> {
        let (done, mut result) = tokio::sync::oneshot::channel();
        self.queued
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((key.to_vec(), entry, done));
        loop {
            // Either a leader has written this entry already, or this task becomes the leader
            // for everything queued: waiting for the lock just to learn the result would line the
            // writers up one behind another (a convoy) and defeat the group commit.
            tokio::select! {
                biased;
                r = &mut result => {
                    return match r {
                        Ok(Ok(r)) => Ok(r),
                        Ok(Err(e)) => Err(StoreError::Other(e)),
                        Err(_) => Err(StoreError::Other("the audit append was dropped".into())),
                    };
                }
                serial = self.append_lock.lock() => {
                    let batch = std::mem::take(&mut *self.queued.lock().unwrap_or_else(|p| p.into_inner()));
                    if !batch.is_empty() {
                        self.write_batch(batch).await;
                    }
                    drop(serial);
                }
            }
        }
    }

    async fn audit_list(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>, StoreError> {
        let limit = if filter.limit <= 0 { 200 } else { filter.limit.min(1000) };
        // Empty strings and zero mean "no filter" so the statement keeps one shape.
        let rows = sqlx::query(&format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_entries \
             WHERE ($1 = '' OR actor = $1) AND ($2 = '' OR action = $2) AND ts_ms >= $3 \
             ORDER BY seq DESC LIMIT $4"
        ))
        .bind(filter.actor.clone().unwrap_or_default())
        .bind(filter.action.clone().unwrap_or_default())
        .bind(filter.since_ms.unwrap_or(0))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(SqlStore::audit_from_row)
            .collect::<Result<_, _>>()
            .map_err(StoreError::Db)
    }

    async fn audit_all(&self, since_ms: Option<i64>) -> Result<Vec<AuditRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_entries WHERE ts_ms >= $1 ORDER BY seq ASC"
        ))
        .bind(since_ms.unwrap_or(0))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(SqlStore::audit_from_row)
            .collect::<Result<_, _>>()
            .map_err(StoreError::Db)
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

    /// Appends several entries in order inside a transaction from `write_tx`: one read of the
    /// chain head and one multi-row INSERT.
    pub(crate) async fn audit_in_many(
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        entries: Vec<(&[u8], NewAuditEntry)>,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let head = sqlx::query("SELECT seq, mac FROM audit_entries ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut **tx)
            .await?;
        let (mut seq, mut mac): (i64, String) = match head {
            Some(r) => (r.try_get("seq")?, r.try_get("mac")?),
            None => (0, audit::GENESIS_MAC.to_string()),
        };
        let mut records = Vec::with_capacity(entries.len());
        for (key, e) in entries {
            seq += 1;
            let r = audit::seal(key, seq, &mac, e);
            mac = r.mac.clone();
            records.push(r);
        }
        // At most 90 rows (900 parameters) per statement, well inside both backends' limits.
        for chunk in records.chunks(90) {
            let values: Vec<String> = (0..chunk.len())
                .map(|i| {
                    let b = i * 10;
                    format!(
                        "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                        b + 1,
                        b + 2,
                        b + 3,
                        b + 4,
                        b + 5,
                        b + 6,
                        b + 7,
                        b + 8,
                        b + 9,
                        b + 10
                    )
                })
                .collect();
            let sql = format!(
                "INSERT INTO audit_entries ({AUDIT_COLUMNS}) VALUES {}",
                values.join(", ")
            );
            let mut q = sqlx::query(&sql);
            for r in chunk {
                q = q
                    .bind(r.seq)
                    .bind(r.entry.ts_ms)
                    .bind(&r.entry.actor)
                    .bind(&r.entry.action)
                    .bind(&r.entry.target)
                    .bind(&r.entry.outcome)
                    .bind(&r.entry.detail)
                    .bind(&r.entry.request_id)
                    .bind(&r.prev_mac)
                    .bind(&r.mac);
            }
            q.execute(&mut **tx).await?;
        }
        Ok(records)
    }
}
