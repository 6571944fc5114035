//! What the console knows of the HTTP request being served.

/// The request id set by the server's middleware, for audit entries.
pub fn request_id() -> String {
    leptos::prelude::use_context::<axum::http::request::Parts>()
        .and_then(|p| {
            p.headers
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        })
        .unwrap_or_default()
}
