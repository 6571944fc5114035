//! tower-sessions storage in the console's own database (SQLite or Postgres), and the typed
//! session keys.

use super::store::Store;
use crate::model::Role;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

/// Key of the signed-in user in the session.
pub const USER_KEY: &str = "ops_console.user";

/// What the session knows of the signed-in person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionUser {
    pub subject: String,
    pub name: String,
    pub email: String,
    pub roles: Vec<Role>,
    pub groups: Vec<String>,
    /// "dev" or "oidc".
    pub method: String,
    /// Unix seconds of the login at the identity provider, as it stated them (`auth_time`);
    /// None when it did not, and then no MFA of this login counts as fresh.
    #[serde(default)]
    pub auth_time: Option<i64>,
    pub amr: Vec<String>,
    /// Unix seconds when this console session began (absolute lifetime).
    pub login_at: i64,
}

#[derive(Clone)]
pub struct DbSessionStore {
    store: Arc<dyn Store>,
}

impl std::fmt::Debug for DbSessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbSessionStore")
            .field("backend", &self.store.backend())
            .finish()
    }
}

impl DbSessionStore {
    pub fn new(store: Arc<dyn Store>) -> DbSessionStore {
        DbSessionStore { store }
    }
}

fn backend(e: impl std::fmt::Display) -> session_store::Error {
    session_store::Error::Backend(e.to_string())
}

fn expiry_ms(r: &Record) -> i64 {
    r.expiry_date.unix_timestamp() * 1000
}

fn now_ms() -> i64 {
    crate::ssr::clock::now()
}

#[async_trait]
impl SessionStore for DbSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let data = serde_json::to_string(record).map_err(|e| session_store::Error::Encode(e.to_string()))?;
        // On an id collision, draw another id (and re-encode, since the record carries it).
        while !self
            .store
            .session_create(&record.id.to_string(), &data, expiry_ms(record))
            .await
            .map_err(backend)?
        {
            record.id = Id::default();
        }
        if serde_json::to_string(record).ok().as_deref() != Some(data.as_str()) {
            self.save(record).await?;
        }
        Ok(())
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let data = serde_json::to_string(record).map_err(|e| session_store::Error::Encode(e.to_string()))?;
        self.store
            .session_save(&record.id.to_string(), &data, expiry_ms(record))
            .await
            .map_err(backend)
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let Some(data) = self
            .store
            .session_load(&id.to_string(), now_ms())
            .await
            .map_err(backend)?
        else {
            return Ok(None);
        };
        serde_json::from_str(&data)
            .map(Some)
            .map_err(|e| session_store::Error::Decode(e.to_string()))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.store.session_delete(&id.to_string()).await.map_err(backend)
    }
}
