//! Signed approval links: `{id}.{expires_ms}.{HMAC-SHA256 hex}` naming one access request. The
//! token alone grants nothing: it only tells the request page that the link is genuine and still
//! valid; deciding needs an approver's own login.

use hmac::{Hmac, Mac};
use sha2::Sha256;

fn mac(key: &[u8], id: i64, expires_ms: i64) -> String {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("any key length"));
    m.update(format!("approval:{id}:{expires_ms}").as_bytes());
    hex::encode(m.finalize().into_bytes())
}

pub fn sign(key: &[u8], id: i64, expires_ms: i64) -> String {
    format!("{id}.{expires_ms}.{}", mac(key, id, expires_ms))
}

/// Ok when `token` was signed with `key` for request `id` and has not expired at `now_ms`.
pub fn verify(key: &[u8], token: &str, id: i64, now_ms: i64) -> Result<(), &'static str> {
    let mut parts = token.splitn(3, '.');
    let (Some(tid), Some(exp), Some(sig)) = (parts.next(), parts.next(), parts.next()) else {
        return Err("the approval link is malformed");
    };
    let (Ok(tid), Ok(exp)) = (tid.parse::<i64>(), exp.parse::<i64>()) else {
        return Err("the approval link is malformed");
    };
    if tid != id {
        return Err("the approval link names another request");
    }
    if !super::kernel::secrets::same_secret(sig, &mac(key, tid, exp)) {
        return Err("the approval link's signature is not valid");
    }
    if now_ms >= exp {
        return Err("the approval link has expired");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_name_one_request_and_expire() {
        let t = sign(b"k", 42, 2_000);
        assert!(verify(b"k", &t, 42, 1_000).is_ok());
        assert_eq!(
            verify(b"k", &t, 43, 1_000),
            Err("the approval link names another request")
        );
        assert_eq!(verify(b"k", &t, 42, 2_000), Err("the approval link has expired"));
        assert_eq!(
            verify(b"other", &t, 42, 1_000),
            Err("the approval link's signature is not valid")
        );
        let forged = t.replace("42.2000", "42.9000");
        assert!(verify(b"k", &forged, 42, 1_000).is_err(), "the expiry is signed");
        assert!(verify(b"k", "garbage", 42, 1_000).is_err());
    }
}
