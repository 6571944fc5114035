//! The login in progress (the OIDC `state`, `nonce`, PKCE verifier and where to go next) between
//! `GET /login` and `/auth/callback`, kept in a short-lived cookie signed with HMAC-SHA256 instead
//! of a stored session: an anonymous visitor opening `/login` costs the database nothing.
//!
//! The value is `base64url(JSON).base64url(HMAC)`, signed with a key of its own derived from the
//! link key. It is signed, not encrypted: the browser that started the login may read its own
//! PKCE verifier (it never leaves that browser but for the callback), and cannot change a byte.
//! The cookie is HttpOnly, `SameSite=Lax` (the callback is a cross-site navigation from the
//! provider), scoped to the callback's path, lives 10 minutes, and every callback clears it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::Sha256;

/// The cookie's name.
pub const COOKIE: &str = "ops_console_login";

/// How long a login in progress lives (the callback also refuses one older than this).
pub const LIFETIME_SECS: i64 = 600;

fn hmac(key: &[u8]) -> Hmac<Sha256> {
    <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"))
}

/// The cookie's signing key, derived from `base` (the link key) for this use only.
pub fn key(base: &[u8]) -> Vec<u8> {
    let mut m = hmac(base);
    m.update(b"ops-console pre-login cookie v1");
    m.finalize().into_bytes().to_vec()
}

/// `value` as a signed cookie value.
pub fn seal<T: Serialize>(key: &[u8], value: &T) -> Result<String, serde_json::Error> {
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(value)?);
    let mut m = hmac(key);
    m.update(payload.as_bytes());
    Ok(format!(
        "{payload}.{}",
        URL_SAFE_NO_PAD.encode(m.finalize().into_bytes())
    ))
}

/// The value of a cookie signed with `key`; `None` when it is malformed or its signature does not
/// match (compared in constant time).
pub fn open<T: DeserializeOwned>(key: &[u8], sealed: &str) -> Option<T> {
    let (payload, sig) = sealed.split_once('.')?;
    let sig = URL_SAFE_NO_PAD.decode(sig).ok()?;
    let mut m = hmac(key);
    m.update(payload.as_bytes());
    m.verify_slice(&sig).ok()?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
}

/// The `Set-Cookie` value that stores `sealed` for the callback at `path`.
pub fn set_cookie(sealed: &str, path: &str, secure: bool) -> String {
    format!(
        "{COOKIE}={sealed}; Path={path}; Max-Age={LIFETIME_SECS}; HttpOnly; SameSite=Lax{}",
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` value that removes the cookie.
pub fn clear_cookie(path: &str, secure: bool) -> String {
    format!(
        "{COOKIE}=; Path={path}; Max-Age=0; HttpOnly; SameSite=Lax{}",
        if secure { "; Secure" } else { "" }
    )
}

/// The cookie's value among a request's `Cookie` headers.
pub fn find<'a>(cookie_headers: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    cookie_headers
        .flat_map(|h| h.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Pending {
        state: String,
        next: String,
    }

    #[test]
    fn a_sealed_value_opens_with_its_key_only_and_unchanged() -> Result<(), Box<dyn std::error::Error>> {
        let k = key(b"link key");
        let v = Pending {
            state: "s1".into(),
            next: "/audit".into(),
        };
        let sealed = seal(&k, &v)?;
        assert_eq!(open::<Pending>(&k, &sealed), Some(v));
        assert_eq!(open::<Pending>(&key(b"other"), &sealed), None, "another key");
        // Changing where to go next (or anything else) breaks the signature.
        let (payload, sig) = sealed.split_once('.').ok_or("no dot")?;
        let forged = URL_SAFE_NO_PAD.encode(br#"{"state":"s1","next":"https://evil.example"}"#);
        assert_eq!(open::<Pending>(&k, &format!("{forged}.{sig}")), None);
        assert_eq!(open::<Pending>(&k, payload), None, "unsigned");
        assert_eq!(open::<Pending>(&k, "garbage.!!"), None);
        Ok(())
    }

    #[test]
    fn the_cookie_is_found_among_others_and_scoped() {
        assert_eq!(
            find(["a=1; ops_console_login=xyz.abc", "b=2"].into_iter()),
            Some("xyz.abc")
        );
        assert_eq!(find(["ops_console_loginx=1"].into_iter()), None);
        let c = set_cookie("v", "/auth/callback", true);
        assert!(
            c.contains("Path=/auth/callback") && c.contains("HttpOnly") && c.contains("SameSite=Lax"),
            "{c}"
        );
        assert!(c.ends_with("; Secure") && c.contains("Max-Age=600"), "{c}");
        assert!(clear_cookie("/auth/callback", false).contains("Max-Age=0"));
    }
}
