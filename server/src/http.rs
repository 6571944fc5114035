//! The HTTP surface (docs/API.md and docs/ARCHITECTURE.md): public endpoints, the development login,
//! logout, the Leptos pages and server functions, and the layers in front of them.

use crate::ServerState;
use crate::limits::{self, audit_refusal};
use app::model::Role;
use app::pages::login::DEV_USERS;
use app::ssr::audit::NewAuditEntry;
use app::ssr::auth::caller_from_session;
use app::ssr::config::AuthMode;
use app::ssr::prometheus::Refusal;
use app::ssr::sessions::{DbSessionStore, SessionUser, USER_KEY};
use app::{App, shell};
use axum::Router;
use axum::extract::{Form, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use leptos::prelude::provide_context;
use leptos_axum::{AxumRouteListing, LeptosRoutes, generate_route_list};
use serde::Deserialize;
use std::time::Instant;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, Session, SessionManagerLayer};

pub const SESSION_COOKIE: &str = "ops_console_session";

pub fn router(state: ServerState) -> Router {
    let app_state = state.app.clone();
    let config = &app_state.config;
    let oidc = config.auth.mode == AuthMode::Oidc;
    // In oidc mode `/login` is the redirect to the provider, not the dev login page.
    let routes: Vec<_> = app_routes()
        .into_iter()
        .filter(|r| !(oidc && r.path() == "/login"))
        .collect();
    let pages = PagePatterns::new(routes.iter().map(|r| r.path().to_string()));

    let sessions = SessionManagerLayer::new(DbSessionStore::new(app_state.store.clone()))
        .with_name(SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(config.behind_tls())
        .with_expiry(Expiry::OnInactivity(tower_sessions::cookie::time::Duration::minutes(
            i64::from(config.auth.idle_minutes),
        )));

    let context_state = app_state.clone();
    let shell_options = state.leptos_options.clone();
    let pkg_dir =
        std::path::Path::new(state.leptos_options.site_root.as_ref()).join(state.leptos_options.site_pkg_dir.as_ref());
    let mut router = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/auth/dev-login", post(dev_login))
        .route("/access/requests/{id}", post(activate_page))
        .route("/logout", post(logout));
    if oidc {
        router = router
            .route("/login", get(oidc_login))
            .route("/auth/callback", get(oidc_callback_once));
    }
    let guard_state = state.clone();
    let hosts = std::sync::Arc::new(crate::host::AllowedHosts::new(config, state.leptos_options.site_addr));
    router
        .leptos_routes_with_context(
            &state,
            routes,
            move || provide_context(context_state.clone()),
            move || shell(shell_options.clone()),
        )
        .nest_service("/pkg", crate::assets::pkg_service(&pkg_dir))
        .fallback(leptos_axum::file_and_error_handler_with_context::<ServerState, _>(
            {
                let s = app_state.clone();
                move || provide_context(s.clone())
            },
            shell,
        ))
        .layer(middleware::from_fn(
            move |session: Session, req: Request, next: Next| {
                let (state, pages) = (guard_state.clone(), pages.clone());
                async move { require_login(state, pages, session, req, next).await }
            },
        ))
        .layer(sessions)
        .layer(middleware::from_fn_with_state(state.clone(), crate::forms::see_other))
        .layer(middleware::from_fn_with_state(state.clone(), csrf))
        .layer(middleware::from_fn_with_state(
            std::sync::Arc::new(limits::Turns::new(config.http.request_timeout_seconds)),
            limits::in_turn,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), limits::body_and_deadline))
        .layer(middleware::from_fn_with_state(hosts, crate::host::check))
        .layer(middleware::from_fn(crate::assets::cache_control))
        .layer(middleware::from_fn_with_state(state.clone(), security_headers))
        .layer(crate::assets::compression())
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(middleware::from_fn(limits::strict_request_id))
        .with_state(state)
}

/// The app's routes, generated once per process. While Leptos generates a route list it holds a
/// process-global flag (`SuppressResourceLoad`), and a Resource first polled on any thread while
/// that flag is up never loads, not even after it is lowered (leptos issue #4773, open): the page
/// awaiting it never finishes. A second router built while another serves (several consoles in
/// one test process) stalled that one's pages for good, the "rare SSR stall" of
/// docs/PERFORMANCE.md. Generated once, before anything in the process can render, it cannot race.
fn app_routes() -> Vec<AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<AxumRouteListing>> = std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

/// `POST /access/requests/{id}`, the activate button: the request page, rendered by a render
/// that issues the credentials (`ActivateNow`) and shows them in this answer only, with
/// `Cache-Control: no-store` and uncompressed (`api::shown_once`). Never a redirect: the
/// credentials would have to be kept somewhere for the next GET. The same checks as the
/// `access/activate` endpoint apply (the requester, an approved request, once).
async fn activate_page(
    State(s): State<ServerState>,
    axum::extract::Path(id): axum::extract::Path<i64>,
    req: Request,
) -> Response {
    let (mut parts, _) = req.into_parts();
    parts.method = Method::GET;
    let req = Request::from_parts(parts, axum::body::Body::empty());
    let (state, options) = (s.app.clone(), s.leptos_options.clone());
    let render = leptos_axum::render_app_async_with_context(
        move || {
            provide_context(state.clone());
            provide_context(app::pages::access::ActivateNow(id));
        },
        move || shell(options.clone()),
    );
    render(req).await.into_response()
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(s): State<ServerState>) -> Response {
    if *s.app.stopping.borrow() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response();
    }
    match s.app.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable\n").into_response()
        }
    }
}

async fn metrics(State(s): State<ServerState>) -> Response {
    let envs = s.app.environments().len() as f64;
    let body = s.app.metrics.render(&[
        ("ops_console_environments", "Environments the console shows.", envs),
        (
            "ops_console_outbox_depth",
            "Notifications waiting for delivery (outbox).",
            s.app.metrics.outbox_depth() as f64,
        ),
    ]);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

/// Request id, latency metric and one structured log line per request.
async fn observe(State(s): State<ServerState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    // A made-up method is `other`, in the metrics and in the log alike.
    let method = app::ssr::prometheus::method_label(req.method().as_str());
    let path = req.uri().path().to_string();
    let request_id = request_id(req.headers());
    let response = next.run(req).await;
    let elapsed = started.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    s.app.metrics.observe_request(method, status, elapsed);
    tracing::info!(
        request_id,
        method,
        path,
        status,
        ms = (elapsed * 1000.0).round(),
        "request"
    );
    response
}

/// Security headers on every response. HTML pages set their own CSP (with the nonce of their
/// hydration script); everything else gets a CSP that allows nothing.
async fn security_headers(State(s): State<ServerState>, req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let h = response.headers_mut();
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        );
    }
    if s.app.config.behind_tls() {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    response
}

/// The origin the console is reached at: `public_url` when set, else this request's Host.
pub fn own_origin(s: &ServerState, headers: &HeaderMap) -> Option<String> {
    if let Some(u) = s.app.config.public_url.as_deref().and_then(|u| url::Url::parse(u).ok()) {
        return Some(u.origin().ascii_serialization());
    }
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(|h| format!("http://{h}"))
}

/// CSRF: before routing, any non-GET request whose `Origin` is another site's or whose
/// `Sec-Fetch-Site` is `cross-site` is refused with 403, and the refusal is audited. Requests
/// without either header are not from a browser page (curl, scripts) and pass; bearer-token
/// requests carry no cookies and are exempt.
async fn csrf(State(s): State<ServerState>, req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    let headers = req.headers();
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("Bearer "))
        && !headers.contains_key(header::COOKIE);
    if bearer {
        return next.run(req).await;
    }
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let cross_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) == Some("cross-site");
    let foreign_origin = match (&origin, own_origin(&s, headers)) {
        (Some(o), Some(own)) => !o.eq_ignore_ascii_case(&own),
        (Some(_), None) => true,
        (None, _) => false,
    };
    if !(cross_site || foreign_origin) {
        return next.run(req).await;
    }
    let request_id = request_id(headers);
    let method = app::ssr::prometheus::method_label(req.method().as_str());
    let detail = serde_json::json!({"method": method, "origin": origin, "cross_site": cross_site});
    // Refused either way; a failed audit write is logged by `audit`.
    let _ = audit_refusal(&s, Refusal::Csrf, req.uri().path(), detail, &request_id).await;
    (StatusCode::FORBIDDEN, "cross-site request refused\n").into_response()
}

#[derive(Debug, Deserialize)]
pub struct DevLoginForm {
    pub user: String,
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub next: Option<String>,
}

/// A path on this console: one leading slash, no scheme, no host, no backslash tricks.
pub fn local_path(next: &str) -> bool {
    next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.contains("://")
        && !next.chars().any(char::is_control)
}

/// The request id (made by the server unless the client sent a valid one, `limits`).
fn request_id(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| app::ssr::kernel::request::valid_request_id(v))
        .unwrap_or_default()
        .to_string()
}

/// Signs `record` into the session under a new session id (no fixation).
async fn sign_in(session: &Session, record: SessionUser) -> Result<(), Response> {
    let stored = async {
        session.cycle_id().await?;
        session.insert(USER_KEY, record).await
    }
    .await;
    stored.map_err(|e| {
        tracing::error!(error = %e, "could not store the session");
        (StatusCode::SERVICE_UNAVAILABLE, "session store unavailable\n").into_response()
    })
}

/// `POST /auth/dev-login` (dev mode only): signs in as one of the demo users with a role.
async fn dev_login(
    State(s): State<ServerState>,
    session: Session,
    headers: HeaderMap,
    Form(form): Form<DevLoginForm>,
) -> Response {
    if s.app.config.auth.mode != AuthMode::Dev {
        return StatusCode::NOT_FOUND.into_response();
    }
    let rid = request_id(&headers);
    let Some((user, name, default_role)) = DEV_USERS.iter().find(|(u, _, _)| *u == form.user) else {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("user: \"{}\" is not a demo user\n", form.user),
        )
            .into_response();
    };
    let role = match form.role.as_deref().filter(|r| !r.is_empty()) {
        None => *default_role,
        Some(r) => match Role::parse(r) {
            Some(role) => role,
            None => {
                return (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("role: \"{r}\" is not a console role\n"),
                )
                    .into_response();
            }
        },
    };
    let next = form.next.unwrap_or_else(|| "/".into());
    let next_ok = local_path(&next);
    let now = chrono::Utc::now();
    let email = format!("{user}@demo.invalid");
    let detail = serde_json::json!({"method": "dev", "role": role.label(), "next": next, "next_rejected": !next_ok});
    // Fail closed: no audit entry, no login.
    if let Err(e) = s.app.record_login(user, &email, name, &[role], detail, &rid).await {
        return (StatusCode::SERVICE_UNAVAILABLE, format!("the login was refused: {e}\n")).into_response();
    }
    let record = SessionUser {
        subject: user.to_string(),
        name: name.to_string(),
        email,
        roles: vec![role],
        groups: s.app.config.dev_groups(role),
        method: "dev".into(),
        auth_time: Some(now.timestamp()),
        amr: vec!["dev".into()],
        login_at: now.timestamp(),
    };
    // A new session id at login (no fixation), then the user.
    if let Err(refused) = sign_in(&session, record).await {
        return refused;
    }
    Redirect::to(if next_ok { &next } else { "/" }).into_response()
}

/// The page routes of the app, to tell a page (which needs a login) from an unknown path (404
/// before any login redirect, docs/ARCHITECTURE.md).
#[derive(Clone)]
pub struct PagePatterns(std::sync::Arc<Vec<Vec<String>>>);

impl PagePatterns {
    pub fn new(paths: impl Iterator<Item = String>) -> PagePatterns {
        let pats = paths
            .filter(|p| p != "/login" && p != "/logout")
            .map(|p| p.split('/').filter(|s| !s.is_empty()).map(str::to_string).collect())
            .collect();
        PagePatterns(std::sync::Arc::new(pats))
    }

    pub fn matches(&self, path: &str) -> bool {
        let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        self.0.iter().any(|pat| {
            pat.len() == segs.len()
                && pat
                    .iter()
                    .zip(&segs)
                    .all(|(p, s)| p.starts_with(':') || p.starts_with('{') || p == s)
        })
    }
}

/// In oidc mode, a page requested without a session goes to `/login?next=PATH`. Unknown paths
/// fall through to the 404 page; API calls answer 401 themselves.
async fn require_login(
    state: ServerState,
    pages: PagePatterns,
    session: Session,
    req: Request,
    next: Next,
) -> Response {
    if state.app.config.auth.mode != AuthMode::Oidc || req.method() != Method::GET || !pages.matches(req.uri().path()) {
        return next.run(req).await;
    }
    match caller_from_session(&state.app, &session).await {
        Ok(_) => next.run(req).await,
        Err(_) => {
            let target = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
            let encoded: String = url::form_urlencoded::byte_serialize(target.as_bytes()).collect();
            Redirect::to(&format!("/login?next={encoded}")).into_response()
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    #[serde(default)]
    pub next: Option<String>,
    #[serde(default)]
    pub step_up: Option<String>,
}

/// `GET /login` (oidc): straight to the provider, the login in progress in a signed cookie (no
/// session is stored for an anonymous visitor). A `next` that is not a local path of at most
/// 1,024 characters is ignored (the user lands on `/`) and audited.
async fn oidc_login(
    State(s): State<ServerState>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<LoginQuery>,
) -> Response {
    let rid = request_id(&headers);
    let mut next = q.next.unwrap_or_else(|| "/".into());
    if !local_path(&next) || next.len() > 1024 {
        let shown: String = next.chars().take(200).collect();
        let detail = serde_json::json!({"next": shown});
        if audit_refusal(&s, Refusal::NextRejected, "console", detail, &rid)
            .await
            .is_err()
        {
            return (StatusCode::SERVICE_UNAVAILABLE, "the audit log cannot be written\n").into_response();
        }
        next = "/".into();
    }
    let oidc = match s.oidc().await {
        Ok(o) => o,
        Err(e) => {
            tracing::error!(error = %e, "identity provider unavailable");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("The identity provider cannot be reached: {e}\n"),
            )
                .into_response();
        }
    };
    let (url, pending) = oidc.start(&next, q.step_up.is_some(), app::ssr::clock::now_secs());
    let cookie = match limits::prelogin_set(&s, &pending) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "could not seal the login in progress");
            return (StatusCode::INTERNAL_SERVER_ERROR, "the sign-in could not be started\n").into_response();
        }
    };
    let mut response = Redirect::to(&url).into_response();
    response.headers_mut().append(header::SET_COOKIE, cookie);
    response
}

#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
}

/// `GET /auth/callback`, which always ends the login in progress (clears its cookie).
async fn oidc_callback_once(
    state: State<ServerState>,
    session: Session,
    headers: HeaderMap,
    query: axum::extract::Query<CallbackQuery>,
) -> Response {
    let clear = limits::prelogin_clear(&state.0);
    let mut response = oidc_callback(state, session, headers, query).await;
    if let Some(c) = clear {
        response.headers_mut().append(header::SET_COOKIE, c);
    }
    response
}

/// `GET /auth/callback`: checks the state against the login in progress (which it consumes, so a
/// replayed callback finds none), exchanges the code, verifies the ID token, maps groups to
/// roles, renews the session id and signs the person in. Every failure is audited with its reason.
async fn oidc_callback(
    State(s): State<ServerState>,
    session: Session,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<CallbackQuery>,
) -> Response {
    let rid = request_id(&headers);
    let pending = limits::prelogin_read(&s, &headers);
    let now = app::ssr::clock::now_secs();
    let refuse = |reason: String| {
        let s = s.clone();
        let rid = rid.clone();
        async move {
            let detail = serde_json::json!({"reason": reason});
            let _ = audit_refusal(&s, Refusal::LoginFailed, "console", detail, &rid).await;
            tracing::warn!(reason, "login refused");
            (
                StatusCode::UNAUTHORIZED,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                format!("Sign-in failed: {reason}.\nStart again at /login.\n"),
            )
                .into_response()
        }
    };
    if let Some(e) = q.error {
        return refuse(format!("the identity provider answered {e}")).await;
    }
    let Some(pending) = pending else {
        return refuse("no sign-in in progress in this browser (expired, replayed, or started elsewhere)".into()).await;
    };
    if !q
        .state
        .as_deref()
        .is_some_and(|st| app::ssr::kernel::secrets::same_secret(st, &pending.state))
    {
        return refuse("the state does not match the sign-in in progress".into()).await;
    }
    if now - pending.started_at > 600 {
        return refuse("the sign-in took longer than 10 minutes".into()).await;
    }
    let Some(code) = q.code else {
        return refuse("no authorization code".into()).await;
    };
    let oidc = match s.oidc().await {
        Ok(o) => o,
        Err(e) => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("The identity provider cannot be reached: {e}\n"),
            )
                .into_response();
        }
    };
    let claims = match oidc.finish(&code, &pending).await {
        Ok(c) => c,
        Err(e) => return refuse(e).await,
    };
    let roles = app::ssr::oidc::roles_for(&s.app.config, &claims.groups);
    let detail = serde_json::json!({
        "method": "oidc",
        "roles": roles.iter().map(|r| r.label()).collect::<Vec<_>>(),
        "groups": claims.groups,
        "amr": claims.amr,
        "next": pending.next,
    });
    // Only a verified email is kept for the person (shown to approvers, compared by the two-person rule).
    let verified_email = if claims.email_verified {
        claims.email.as_str()
    } else {
        ""
    };
    if let Err(e) = s
        .app
        .record_login(&claims.subject, verified_email, &claims.name, &roles, detail, &rid)
        .await
    {
        return (StatusCode::SERVICE_UNAVAILABLE, format!("the login was refused: {e}\n")).into_response();
    }
    let record = SessionUser {
        subject: claims.subject,
        name: claims.name,
        email: claims.email,
        roles,
        groups: claims.groups,
        method: "oidc".into(),
        auth_time: claims.auth_time,
        amr: claims.amr,
        login_at: now,
    };
    if let Err(refused) = sign_in(&session, record).await {
        return refused;
    }
    Redirect::to(&pending.next).into_response()
}

/// `POST /logout`: ends the session (and audits it), then back to `/`.
async fn logout(State(s): State<ServerState>, session: Session, headers: HeaderMap) -> Response {
    let caller = caller_from_session(&s.app, &session)
        .await
        .ok()
        .filter(|c| !c.anonymous);
    if let Some(c) = caller {
        let entry = NewAuditEntry::new(&c.subject, "logout", "console", "ok", serde_json::json!({}))
            .with_request_id(&request_id(&headers));
        if s.app.audit(entry).await.is_err() {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "the audit log cannot be written, so the logout was refused\n",
            )
                .into_response();
        }
    }
    if let Err(e) = session.flush().await {
        tracing::error!(error = %e, "could not end the session");
        return (StatusCode::SERVICE_UNAVAILABLE, "session store unavailable\n").into_response();
    }
    // RP-initiated logout: the provider ends its session too, then sends the browser back.
    if s.app.config.auth.mode == AuthMode::Oidc
        && let Ok(oidc) = s.oidc().await
        && let Some(url) = oidc.logout_url(&format!("{}/logout", s.app.config.base_url()))
    {
        return Redirect::to(&url).into_response();
    }
    Redirect::to("/").into_response()
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn only_local_paths_are_followed() {
        assert!(local_path("/env/taskflow-production"));
        assert!(local_path("/audit?actor=alice"));
        for bad in [
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "evil",
            "",
            "/x\r\nLocation: y",
        ] {
            assert!(!local_path(bad), "{bad}");
        }
    }
}
