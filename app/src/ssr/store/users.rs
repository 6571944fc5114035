//! People and their credentials: users (one row per OIDC subject, updated at each login),
//! sessions (the tower-sessions store) and API tokens (only their hashes are kept).

use super::{SqlStore, StoreError};
use crate::ssr::audit::NewAuditEntry;
use async_trait::async_trait;
use sqlx::Row;

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

/// What a revocation of an API token found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRevocation {
    /// Revoked now, at this time.
    Revoked { revoked_ms: i64 },
    /// It had been revoked before, at this time; nothing changed.
    AlreadyRevoked { revoked_ms: i64 },
    /// There is no such token.
    Unknown,
}

/// Builds the audit entry of a revocation from what it did.
pub type RevocationAudit = Box<dyn FnOnce(TokenRevocation) -> NewAuditEntry + Send>;

#[async_trait]
pub trait UserStore: Send + Sync {
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

    async fn token_create(&self, t: &TokenRecord) -> Result<(), StoreError>;
    async fn token_get(&self, id: &str) -> Result<Option<TokenRecord>, StoreError>;
    async fn token_list(&self) -> Result<Vec<TokenRecord>, StoreError>;
    /// False when there was no such unrevoked token.
    async fn token_revoke(&self, id: &str, now_ms: i64) -> Result<bool, StoreError>;
    /// Revokes token `id` and writes the audit entry `audit` builds from what the update did, in
    /// one transaction: the entry reports what happened, and if it cannot be written the token
    /// stays as it was.
    async fn token_revoke_audited(
        &self,
        id: &str,
        now_ms: i64,
        audit: RevocationAudit,
    ) -> Result<TokenRevocation, StoreError>;
    async fn token_touch(&self, id: &str, now_ms: i64) -> Result<(), StoreError>;
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

#[async_trait]
impl UserStore for SqlStore {
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

    async fn token_revoke_audited(
        &self,
        id: &str,
        now_ms: i64,
        audit: RevocationAudit,
    ) -> Result<TokenRevocation, StoreError> {
        let (_serial, mut tx) = self.write_tx().await?;
        let done = sqlx::query("UPDATE api_tokens SET revoked_ms = $2 WHERE id = $1 AND revoked_ms IS NULL")
            .bind(id)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        let outcome = if done.rows_affected() == 1 {
            TokenRevocation::Revoked { revoked_ms: now_ms }
        } else {
            let row = sqlx::query("SELECT revoked_ms FROM api_tokens WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
            match row.map(|r| r.try_get::<Option<i64>, _>("revoked_ms")).transpose()? {
                Some(Some(revoked_ms)) => TokenRevocation::AlreadyRevoked { revoked_ms },
                // Not revoked yet the update changed nothing: only a row that is not there.
                _ => TokenRevocation::Unknown,
            }
        };
        SqlStore::audit_in_many(&mut tx, vec![(self.audit_key.as_slice(), audit(outcome))]).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    async fn token_touch(&self, id: &str, now_ms: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE api_tokens SET last_used_ms = $2 WHERE id = $1")
            .bind(id)
            .bind(now_ms)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
