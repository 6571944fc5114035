//! What the console knows of the HTTP request being served.

/// A request id the console accepts from a client (`X-Request-Id`): 1 to 64 ASCII letters, digits
/// and `-`. Anything else is replaced by one the server makes (a UUID), so that nothing a client
/// chose beyond that reaches the audit log, its CSV export or the logs.
pub fn valid_request_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// The request id set by the server's middleware, for audit entries (empty when there is none or
/// it is not a valid one).
pub fn request_id() -> String {
    leptos::prelude::use_context::<axum::http::request::Parts>()
        .and_then(|p| {
            p.headers
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .filter(|v| valid_request_id(v))
                .map(str::to_string)
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::valid_request_id;

    #[test]
    fn only_short_plain_request_ids_are_accepted() {
        assert!(valid_request_id("3f2b9c1e-8a7d-4c2e-9b1a-0d5e6f7a8b9c"));
        assert!(valid_request_id("req-42"));
        for bad in [
            "",
            "=HYPERLINK(\"https://evil.example\",\"x\")",
            "a b",
            "a,b",
            "id\r\nX: y",
            "ümlaut",
            &"a".repeat(65),
        ] {
            assert!(!valid_request_id(bad), "{bad}");
        }
    }
}
