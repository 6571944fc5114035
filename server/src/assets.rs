//! The client assets on the wire (docs/ARCHITECTURE.md, "Static assets"): content-hashed names
//! cached for a year, precompressed copies picked by `Accept-Encoding`, everything else compressed
//! on the fly and revalidated.

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use std::path::Path;
use tower_http::compression::predicate::{DefaultPredicate, Predicate};
use tower_http::compression::{CompressionLayer, CompressionLevel};
use tower_http::services::ServeDir;

/// The file `scripts/assets.sh` writes beside the hashed copies: their common name.
pub const HASHED_NAME_FILE: &str = "hashed-name";
const BASE: &str = "ops-console";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// The name the pages load the client under: `ops-console.<hash>` when the build wrote the hashed
/// copies (and all three are there), else `ops-console` (a build made without `make site`).
pub fn output_name(pkg_dir: &Path) -> String {
    let named = std::fs::read_to_string(pkg_dir.join(HASHED_NAME_FILE))
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|n| {
            is_hashed(n)
                && ["js", "wasm", "css"]
                    .iter()
                    .all(|e| pkg_dir.join(format!("{n}.{e}")).is_file())
        });
    match named {
        Some(n) => n,
        None => {
            tracing::warn!(dir = %pkg_dir.display(), "no content-hashed client assets: serving {BASE}.js/.wasm/.css, revalidated on every visit");
            BASE.to_string()
        }
    }
}

/// `ops-console.` followed by 16 lowercase hex digits.
fn is_hashed(name: &str) -> bool {
    name.strip_prefix("ops-console.")
        .is_some_and(|h| h.len() == 16 && h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
}

/// `/pkg/…`: the files, with their `.br` / `.gz` copies when the browser accepts them.
pub fn pkg_service(pkg_dir: &Path) -> ServeDir {
    ServeDir::new(pkg_dir).precompressed_br().precompressed_gzip()
}

/// Gzip, when the client accepts it, for every response but: what is already encoded (the
/// precompressed files, brotli or gzip as negotiated by `pkg_service`), what is too small or not
/// compressible (the default predicate), and what must not be stored (`no-store`: secrets shown
/// once), which is never compressed so that its length cannot tell an observer anything about the
/// secret in it (BREACH). Not brotli on the fly: each brotli stream allocates and zeroes several
/// MB of encoder state, which under 200 viewers was a fifth of the CPU of a page and most of the
/// memory (docs/PERFORMANCE.md, "Load"); gzip's state is a few hundred KB.
pub fn compression() -> CompressionLayer<impl Predicate> {
    let not_secret = |_: StatusCode, _: axum::http::Version, h: &axum::http::HeaderMap, _: &axum::http::Extensions| {
        !h.get(header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("no-store"))
    };
    CompressionLayer::new()
        .br(false)
        .gzip(true)
        .quality(CompressionLevel::Fastest)
        .compress_when(DefaultPredicate::new().and(not_secret))
}

/// `Cache-Control` where a handler did not set one: a year and `immutable` for a content-hashed
/// asset that was found (200, or 304 to a revalidation); `no-cache` (revalidate) for the other
/// files under `/pkg` and the favicon; `private, no-cache` for everything else (pages and data,
/// which hold what one signed-in person may see). `/pkg` answers also say `Vary: Accept-Encoding`.
pub async fn cache_control(req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let mut response = next.run(req).await;
    let found = response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED;
    if path.starts_with("/pkg/") {
        // The precompressed copies differ by Accept-Encoding: a shared cache must key on it
        // (tower-http adds Vary only to what it compresses itself).
        response
            .headers_mut()
            .append(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    if response.headers().contains_key(header::CACHE_CONTROL) {
        return response;
    }
    let value = match path.strip_prefix("/pkg/") {
        Some(file) if found && hashed_file(file) => IMMUTABLE,
        Some(_) => "no-cache",
        None if path == "/favicon.svg" => "no-cache",
        None => "private, no-cache",
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
    response
}

fn hashed_file(file: &str) -> bool {
    ["js", "wasm", "css"]
        .iter()
        .any(|ext| file.strip_suffix(&format!(".{ext}")).is_some_and(is_hashed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_sixteen_hex_digit_name_is_hashed() {
        assert!(is_hashed("ops-console.0123456789abcdef"));
        assert!(!is_hashed("ops-console"));
        assert!(!is_hashed("ops-console.0123456789ABCDEF"));
        assert!(!is_hashed("ops-console.0123456789abcde"));
        assert!(!is_hashed("other.0123456789abcdef"));
        assert!(hashed_file("ops-console.0123456789abcdef.wasm"));
        assert!(!hashed_file("ops-console.wasm"));
        assert!(!hashed_file("ops-console.0123456789abcdef.html"));
        assert!(!hashed_file("../ops-console.0123456789abcdef.js"));
    }
}
