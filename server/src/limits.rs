//! What one request may cost the console (docs/SECURITY.md): a request id of a strict form, a
//! bounded body, a deadline, refusals of anonymous requests audited at a bounded rate, and the
//! login in progress kept in a signed cookie rather than a stored session.

use crate::ServerState;
use app::error::AppError;
use app::ssr::audit::NewAuditEntry;
use app::ssr::kernel::request::valid_request_id;
use app::ssr::prometheus::Refusal;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::time::Duration;

/// Drops an `X-Request-Id` that is not 1-64 letters, digits and `-`, so that the next layer makes
/// one (a UUID) instead: a client's id reaches the logs and the audit log only in that form.
pub async fn strict_request_id(mut req: Request, next: Next) -> Response {
    let valid = req
        .headers()
        .get_all("x-request-id")
        .iter()
        .map(|v| v.to_str().ok().filter(|v| valid_request_id(v)))
        .collect::<Option<Vec<_>>>()
        .is_some_and(|ids| ids.len() <= 1);
    if !valid {
        req.headers_mut().remove("x-request-id");
    }
    next.run(req).await
}

fn refused(status: StatusCode, error: &str, message: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::json!({"error": error, "message": message}).to_string(),
    )
        .into_response()
}

/// The body limit and the deadline (`[http]`). A body larger than `max_body_bytes` is refused
/// with 413 before any handler sees it (by its `Content-Length`, or once that many bytes have
/// arrived); a body that has not arrived by the deadline is refused with 408. A handler that has
/// not answered by then gets 504: a read is stopped, a write runs on to its end (an action is
/// never cut off half-way, e.g. after STS issued credentials and before they are recorded) and
/// its outcome shows on reload.
pub async fn body_and_deadline(State(s): State<ServerState>, req: Request, next: Next) -> Response {
    let http = &s.app.config.http;
    let max = http.max_body_bytes as usize;
    let seconds = http.request_timeout_seconds;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(u64::from(seconds));
    let too_large = || {
        refused(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("the request body is larger than {max} bytes (http.max_body_bytes)"),
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return too_large();
    }
    let (parts, body) = req.into_parts();
    let bytes = match tokio::time::timeout_at(deadline, axum::body::to_bytes(body, max)).await {
        Err(_) => {
            return refused(
                StatusCode::REQUEST_TIMEOUT,
                "timeout",
                format!("the request body did not arrive within {seconds} s (http.request_timeout_seconds)"),
            );
        }
        Ok(Err(e)) if e.to_string().contains("length limit") => return too_large(),
        Ok(Err(e)) => {
            return refused(
                StatusCode::BAD_REQUEST,
                "transport",
                format!("the request body could not be read: {e}"),
            );
        }
        Ok(Ok(bytes)) => bytes,
    };
    let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
    let mut task = tokio::spawn(next.run(Request::from_parts(parts, Body::from(bytes))));
    match tokio::time::timeout_at(deadline, &mut task).await {
        Ok(Ok(response)) => response,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "request handler failed");
            refused(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the request failed".into(),
            )
        }
        Err(_) => {
            if safe {
                task.abort();
            }
            tracing::warn!(seconds, safe, "request took longer than http.request_timeout_seconds");
            refused(
                StatusCode::GATEWAY_TIMEOUT,
                "timeout",
                format!(
                    "no answer within {seconds} s (http.request_timeout_seconds); {}",
                    if safe {
                        "try again"
                    } else {
                        "the action carries on to its end: reload to see its outcome"
                    }
                ),
            )
        }
    }
}

/// Counts a refusal of an anonymous request in `/metrics` and audits it (actor `anonymous`,
/// outcome `refused`) while this minute's budget for its kind lasts; past it, the refusal is only
/// counted, and the next audited one of its kind says how many were left out
/// (`unaudited_before`). Errors only when an audited refusal could not be written.
pub async fn audit_refusal(
    s: &ServerState,
    kind: Refusal,
    target: &str,
    mut detail: serde_json::Value,
    request_id: &str,
) -> Result<(), AppError> {
    let per_minute = s.app.config.http.audited_refusals_per_minute;
    let Some(skipped) = s.app.metrics.refusal(kind, app::ssr::clock::now(), per_minute) else {
        return Ok(());
    };
    if skipped > 0
        && let Some(o) = detail.as_object_mut()
    {
        o.insert("unaudited_before".into(), skipped.into());
    }
    let entry = NewAuditEntry::new("anonymous", kind.action(), target, "refused", detail).with_request_id(request_id);
    s.app.audit(entry).await.map(|_| ())
}

/// Where the pre-login cookie is sent: the callback's path (from `auth.redirect_url`).
fn prelogin_path(s: &ServerState) -> String {
    url::Url::parse(&app::ssr::oidc::redirect_url(&s.app.config))
        .map(|u| u.path().to_string())
        .unwrap_or_else(|_| "/auth/callback".into())
}

fn prelogin_key(s: &ServerState) -> Vec<u8> {
    app::ssr::prelogin::key(&s.app.link_key())
}

/// The `Set-Cookie` header that keeps `pending` until the callback.
pub fn prelogin_set(s: &ServerState, pending: &app::ssr::oidc::PendingLogin) -> Result<HeaderValue, String> {
    let sealed = app::ssr::prelogin::seal(&prelogin_key(s), pending).map_err(|e| e.to_string())?;
    let cookie = app::ssr::prelogin::set_cookie(&sealed, &prelogin_path(s), s.app.config.behind_tls());
    HeaderValue::from_str(&cookie).map_err(|e| e.to_string())
}

/// The login in progress this browser's cookie carries, when its signature holds.
pub fn prelogin_read(s: &ServerState, headers: &HeaderMap) -> Option<app::ssr::oidc::PendingLogin> {
    let cookies = headers
        .get_all(header::COOKIE)
        .into_iter()
        .filter_map(|v| v.to_str().ok());
    app::ssr::prelogin::find(cookies).and_then(|v| app::ssr::prelogin::open(&prelogin_key(s), v))
}

/// The `Set-Cookie` header that ends the login in progress (every callback sends it, so a
/// replayed callback in this browser finds none).
pub fn prelogin_clear(s: &ServerState) -> Option<HeaderValue> {
    HeaderValue::from_str(&app::ssr::prelogin::clear_cookie(
        &prelogin_path(s),
        s.app.config.behind_tls(),
    ))
    .ok()
}
