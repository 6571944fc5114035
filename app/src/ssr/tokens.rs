//! API tokens: `opc_<id>_<secret>`. The id is public (audit entries name it); only the SHA-256 of
//! the whole token is stored, and a presented token is checked against it in constant time.

use super::auth::Caller;
use super::state::AppState;
use crate::error::AppError;
use crate::model::Role;
use sha2::{Digest, Sha256};

pub const PREFIX: &str = "opc_";

/// A new token: (id, the token to show once).
pub fn generate() -> (String, String) {
    let id: [u8; 6] = rand::random();
    let secret: [u8; 32] = rand::random();
    let id = hex::encode(id);
    let token = format!("{PREFIX}{id}_{}", hex::encode(secret));
    (id, token)
}

pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn id_of(token: &str) -> Option<&str> {
    let rest = token.strip_prefix(PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    (id.len() == 12 && secret.len() == 64).then_some(id)
}

/// Compares secrets without leaking where they differ (tokens here, OIDC `state` in the server).
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The caller a bearer token stands for; unknown, revoked or expired tokens are refused.
pub async fn caller_for(state: &AppState, token: &str) -> Result<Caller, AppError> {
    let refused = || AppError::Unauthenticated;
    let id = id_of(token).ok_or_else(refused)?;
    let record = state
        .store
        .token_get(id)
        .await
        .map_err(|e| AppError::Unavailable(format!("token store: {e}")))?
        .ok_or_else(refused)?;
    let now = chrono::Utc::now().timestamp_millis();
    if !same_secret(&record.token_hash, &hash(token)) || record.revoked_ms.is_some() || record.expires_ms <= now {
        return Err(refused());
    }
    let role = Role::parse(&record.role).ok_or_else(refused)?;
    if let Err(e) = state.store.token_touch(id, now).await {
        tracing::warn!(error = %e, token = id, "could not record the token's use");
    }
    tracing::info!(token = id, name = %record.name, "API token used");
    Ok(Caller {
        subject: format!("token:{id}"),
        name: format!("API token {} ({}), issued by {}", record.name, id, record.created_by),
        roles: vec![role],
        groups: vec![],
        anonymous: false,
        fresh_mfa: false,
        token: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_parse_and_hash() {
        let (id, token) = generate();
        assert_eq!(id_of(&token), Some(id.as_str()));
        assert_eq!(hash(&token).len(), 64);
        assert_ne!(hash(&token), hash(&format!("{token}x")));
        assert_eq!(id_of("opc_short_x"), None);
        assert_eq!(id_of("Bearer nonsense"), None);
    }
}
