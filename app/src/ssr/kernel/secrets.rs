//! Secrets: the API token format `opc_<id>_<secret>`, and a constant-time compare.
//! API tokens: The id is public (audit entries name it); only the SHA-256 of
//! the whole token is stored, and a presented token is checked against it in constant time.

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

pub fn id_of(token: &str) -> Option<&str> {
    let rest = token.strip_prefix(PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    (id.len() == 12 && secret.len() == 64).then_some(id)
}

/// Compares secrets without leaking where they differ (tokens here, OIDC `state` in the server).
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
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
