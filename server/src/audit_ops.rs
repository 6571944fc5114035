//! What `ops-console audit verify | head | rekey` do, as functions (the CLI in `main.rs` only
//! parses arguments and prints), so that tests run them in process on both backends.

use app::ssr::audit::{self, AuditRecord, ChainError, ChainHead, Keys};
use app::ssr::store::{Store, StoreError};
use std::path::Path;

/// A key from a file, by the rules of `audit.key_file`: surrounding whitespace trimmed, at least
/// 16 characters.
pub fn read_key_file(path: &Path) -> Result<Vec<u8>, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("cannot read the key file {}: {e}", path.display()))?;
    let key = text.trim();
    if key.len() < 16 {
        return Err(format!("the key in {} must be at least 16 characters", path.display()));
    }
    Ok(key.as_bytes().to_vec())
}

/// The outcome of a verification: the head, or what failed.
pub type Verified = Result<ChainHead, ChainError>;

/// Checks the whole log: each entry with the key its id names, from `configured` (the console's
/// key; rows without a key id count as sealed with it unless a rekey entry names another) and
/// `others` (earlier keys, optional: the rekey entries vouch for what they sealed); then, when
/// given, that the head recorded earlier is still there with its MAC.
pub async fn verify(
    store: &dyn Store,
    configured: &[u8],
    others: Vec<Vec<u8>>,
    expect_head: Option<&ChainHead>,
) -> Result<Verified, StoreError> {
    let entries = store.audit_all(None).await?;
    let keys = Keys::new(std::iter::once(configured.to_vec()).chain(others));
    let verified = audit::verify_with(&keys, &audit::key_id(configured), &entries).and_then(|head| {
        if let Some(expected) = expect_head {
            audit::check_head(&entries, expected)?;
        }
        Ok(head)
    });
    Ok(verified)
}

/// Hands the log over from `old_key` to `new_key` (`audit.rekey`, signed by both); `actor` names
/// who ran it.
pub async fn rekey(store: &dyn Store, old_key: &[u8], new_key: &[u8], actor: &str) -> Result<AuditRecord, StoreError> {
    store.audit_rekey(old_key, new_key, actor).await
}

/// Who runs the command, for the rekey entry: `cli:$USER` (printable, at most 64 characters).
pub fn cli_actor() -> String {
    let user: String = std::env::var("USER")
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .take(64)
        .collect();
    if user.trim().is_empty() {
        "cli".to_string()
    } else {
        format!("cli:{}", user.trim())
    }
}
