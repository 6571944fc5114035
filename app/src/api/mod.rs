//! Server functions, one file per area. Each has an explicit, stable endpoint under `/api/v1`
//! (docs/API.md): through `as_caller` it checks who is calling and what they may do, parses its
//! input into checked types, makes one call into the domain and returns
//! `AppError`, whose HTTP status is applied by `finish`.

pub mod access;
pub mod activity;
pub mod audit;
pub mod environments;
pub mod incidents;
pub mod rollbacks;
pub mod session;
pub mod tokens;

pub use audit::list_audit;
pub use environments::{get_backups, get_environment, get_metrics, get_service, get_status, list_environments};
pub use session::whoami;

/// Applies the HTTP status of an error to the response (server side), writes refusals (403) to
/// the audit log with who asked for what (the caller `as_caller` already resolved, so a token is
/// not looked up twice), and passes the result on.
#[cfg(feature = "ssr")]
async fn finish<T>(
    result: Result<T, crate::error::AppError>,
    who: Option<(&crate::ssr::state::AppState, &crate::ssr::auth::Caller)>,
) -> Result<T, crate::error::AppError> {
    use crate::error::AppError;
    if let Err(e) = &result {
        // A plain form post keeps the redirect server_fn gives it (back to the page, the error
        // in `__err`), which the browser follows; a 4xx here would show it a JSON body instead.
        if let Some(opts) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>()
            && !plain_form_post()
            && let Ok(code) = axum::http::StatusCode::from_u16(e.status())
        {
            opts.set_status(code);
        }
        if let AppError::Forbidden(reason) = e
            && let Some((state, caller)) = who
        {
            let endpoint = leptos::prelude::use_context::<axum::http::request::Parts>()
                .map(|p| p.uri.path().to_string())
                .unwrap_or_default();
            let entry = crate::ssr::kernel::effects::audit_outcome(
                &caller.subject,
                "request.refused",
                &endpoint,
                "refused",
                serde_json::json!({"reason": reason, "roles": caller.roles}),
            );
            // The request is refused either way; a failed audit write is logged by `audit`.
            let _ = state.audit(entry).await;
        }
    }
    result
}

/// Whether this server function was called by a plain HTML form (a browser without the app's
/// script): a POST to `/api/…` that accepts `text/html`, which server_fn answers with a redirect
/// (`server/src/forms.rs` makes it a 303). A page rendered on the server that calls a server
/// function directly is a GET of the page, so it is not one.
/// Which posts count as form posts is decided once, in front of the app (`server/src/forms.rs`
/// gives every other post to `/api/` an `Accept` without HTML), so here the `Accept` tells.
#[cfg(feature = "ssr")]
pub(crate) fn plain_form_post() -> bool {
    leptos::prelude::use_context::<axum::http::request::Parts>().is_some_and(|p| {
        p.method == axum::http::Method::POST
            && p.uri.path().starts_with("/api/")
            && p.headers
                .get(axum::http::header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.to_ascii_lowercase().contains("text/html"))
    })
}

/// A secret shown once cannot ride a plain form post: server_fn would drop it for the redirect.
/// Refused before anything is issued.
#[cfg(feature = "ssr")]
pub(crate) fn not_by_plain_form(what: &str, instead: &str) -> Result<(), crate::error::AppError> {
    if plain_form_post() {
        return Err(crate::error::AppError::Invalid(format!(
            "{what} cannot be shown after a plain form post: {instead}"
        )));
    }
    Ok(())
}

/// After a plain form post that created something (an incident, an access request), the browser
/// goes to it rather than back to the form. Calls from scripts and the app get the JSON as before.
#[cfg(feature = "ssr")]
pub(crate) fn go_to(path: &str) {
    if plain_form_post() {
        leptos_axum::redirect(path);
    }
}

/// Marks this response as carrying a secret shown once (temporary credentials, a new API token):
/// `Cache-Control: no-store`, so no cache keeps it, and the server never compresses a `no-store`
/// response (server/src/assets.rs), so its length tells an observer nothing about the secret.
#[cfg(feature = "ssr")]
pub(crate) fn shown_once() {
    if let Some(opts) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
        opts.insert_header(
            axum::http::header::CACHE_CONTROL,
            axum::http::HeaderValue::from_static("no-store"),
        );
    }
}

/// Runs a server function's body as the current caller (session, API token, or the dev viewer),
/// then `finish`es its result: the one wrapper every server function shares.
#[cfg(feature = "ssr")]
pub(crate) async fn as_caller<T, F, Fut>(f: F) -> Result<T, crate::error::AppError>
where
    F: FnOnce(crate::ssr::state::AppState, crate::ssr::auth::Caller) -> Fut,
    Fut: std::future::Future<Output = Result<T, crate::error::AppError>>,
{
    match crate::ssr::auth::current().await {
        Ok((state, caller)) => {
            let result = f(state.clone(), caller.clone()).await;
            finish(result, Some((&state, &caller))).await
        }
        Err(e) => finish(Err(e), None).await,
    }
}
