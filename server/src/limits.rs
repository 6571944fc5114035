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

/// How many responses the console produces at once (`in_turn`): enough to keep both cores of a
/// small machine busy while some wait on the database or AWS, few enough that 200 viewers do not
/// hold 200 renders in memory at once.
pub const RESPONSES_AT_ONCE: usize = 16;
/// How many requests may wait for a turn; more are refused at once with 503.
pub const WAITING_AT_MOST: usize = 512;
/// How long a request waits for a turn at most (less if `http.request_timeout_seconds` is
/// shorter): then 503 with `Retry-After`, and the action was not started.
pub const TURN_WAIT: Duration = Duration::from_secs(10);

/// The turns of one router (`in_turn`).
pub struct Turns {
    permits: std::sync::Arc<tokio::sync::Semaphore>,
    waiting: std::sync::atomic::AtomicUsize,
    wait: Duration,
}

impl Turns {
    pub fn new(request_timeout_seconds: u32) -> Turns {
        Turns {
            permits: std::sync::Arc::new(tokio::sync::Semaphore::new(RESPONSES_AT_ONCE)),
            waiting: std::sync::atomic::AtomicUsize::new(0),
            wait: TURN_WAIT.min(Duration::from_secs(u64::from(request_timeout_seconds)) / 2),
        }
    }
}

fn busy(why: &str) -> Response {
    let mut r = refused(
        StatusCode::SERVICE_UNAVAILABLE,
        "busy",
        format!("{why}; nothing was done: try again"),
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    r
}

/// Responses are produced in turn: at most `RESPONSES_AT_ONCE` handlers run at once (a page is
/// rendered whole before it is sent, `SsrMode::Async`), the others wait, first come first served,
/// for up to `TURN_WAIT`, and at most `WAITING_AT_MOST` wait. The turn ends with the handler, not
/// with the sending, so a client that reads slowly holds none. `body_and_deadline` is outside this
/// layer: a body still arriving holds no turn. The health and readiness checks, the metrics, the
/// static files and the login routes never wait.
pub async fn in_turn(State(turns): State<std::sync::Arc<Turns>>, req: Request, next: Next) -> Response {
    use std::sync::atomic::Ordering;
    let path = req.uri().path();
    if matches!(path, "/healthz" | "/readyz" | "/metrics" | "/login" | "/auth/callback") || path.starts_with("/pkg/") {
        return next.run(req).await;
    }
    let turn = match turns.permits.clone().try_acquire_owned() {
        Ok(turn) => turn,
        Err(_) => {
            if turns.waiting.fetch_add(1, Ordering::SeqCst) >= WAITING_AT_MOST {
                turns.waiting.fetch_sub(1, Ordering::SeqCst);
                return busy("too many requests are waiting");
            }
            let got = tokio::time::timeout(turns.wait, turns.permits.clone().acquire_owned()).await;
            turns.waiting.fetch_sub(1, Ordering::SeqCst);
            match got {
                Ok(Ok(turn)) => turn,
                _ => return busy(&format!("no turn within {} s", turns.wait.as_secs())),
            }
        }
    };
    let response = next.run(req).await;
    drop(turn);
    response
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use axum::Router;
    use axum::routing::get;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::sync::Semaphore;
    use tower::ServiceExt;

    fn get_req(path: &str) -> Request {
        Request::builder().uri(path).body(Body::empty()).unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn responses_are_produced_in_turn_and_health_checks_never_wait() {
        let turns = Arc::new(Turns::new(30));
        let gate = Arc::new(Semaphore::new(0));
        let (inside, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let page = {
            let (gate, inside, most) = (gate.clone(), inside.clone(), most.clone());
            move || async move {
                let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                let _ = gate.acquire().await.map(|p| p.forget());
                inside.fetch_sub(1, Ordering::SeqCst);
                "page"
            }
        };
        let app = Router::new()
            .route("/page", get(page))
            .route("/healthz", get(|| async { "ok" }))
            .layer(axum::middleware::from_fn_with_state(turns.clone(), in_turn));
        let asked = 3 * RESPONSES_AT_ONCE;
        let calls: Vec<_> = (0..asked)
            .map(|_| tokio::spawn(app.clone().oneshot(get_req("/page"))))
            .collect();
        // Every turn taken, by handlers held at the gate; the others wait for a turn.
        for _ in 0..500 {
            if inside.load(Ordering::SeqCst) == RESPONSES_AT_ONCE
                && turns.waiting.load(Ordering::SeqCst) == asked - RESPONSES_AT_ONCE
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(inside.load(Ordering::SeqCst), RESPONSES_AT_ONCE);
        assert_eq!(turns.waiting.load(Ordering::SeqCst), asked - RESPONSES_AT_ONCE);
        let health = app.clone().oneshot(get_req("/healthz")).await.unwrap();
        assert_eq!(
            health.status(),
            StatusCode::OK,
            "the health check does not wait for a turn"
        );
        gate.add_permits(asked);
        for c in calls {
            assert_eq!(
                c.await.unwrap().unwrap().status(),
                StatusCode::OK,
                "every request is answered"
            );
        }
        assert_eq!(most.load(Ordering::SeqCst), RESPONSES_AT_ONCE, "never more at once");
        assert_eq!(turns.permits.available_permits(), RESPONSES_AT_ONCE);
        assert_eq!(turns.waiting.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_request_that_gets_no_turn_in_time_is_refused_and_not_run() {
        // A deadline of 2 s: a turn is waited for 1 s at most.
        let turns = Arc::new(Turns::new(2));
        let held: Vec<_> = (0..RESPONSES_AT_ONCE)
            .map(|_| turns.permits.clone().try_acquire_owned().unwrap())
            .collect();
        let ran = Arc::new(AtomicUsize::new(0));
        let app = Router::new()
            .route(
                "/page",
                get({
                    let ran = ran.clone();
                    move || async move {
                        ran.fetch_add(1, Ordering::SeqCst);
                        "page"
                    }
                }),
            )
            .layer(axum::middleware::from_fn_with_state(turns.clone(), in_turn));
        let r = app.clone().oneshot(get_req("/page")).await.unwrap();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers()["retry-after"], "1");
        let body = axum::body::to_bytes(r.into_body(), 4096).await.unwrap();
        assert!(String::from_utf8_lossy(&body).contains("nothing was done"));
        assert_eq!(ran.load(Ordering::SeqCst), 0, "the handler never ran");
        // A slow reader holds no turn: the turn ends with the handler.
        drop(held);
        let r = app.oneshot(get_req("/page")).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            turns.permits.available_permits(),
            RESPONSES_AT_ONCE,
            "given back before the body is read"
        );
        assert_eq!(ran.load(Ordering::SeqCst), 1);
    }
}
