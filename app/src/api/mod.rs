//! Server functions, one file per area. Each has an explicit, stable endpoint under `/api/v1`
//! (docs/API.md), checks who is calling and what they may do, validates its input and returns
//! `AppError`, whose HTTP status is applied by `finish`.

pub mod audit;
pub mod environments;
pub mod health;
pub mod session;
pub mod tokens;

pub use audit::list_audit;
pub use environments::{get_environment, get_service, list_environments};
pub use health::{get_backups, get_metrics, get_status};
pub use session::whoami;

/// Applies the HTTP status of an error to the response (server side) and passes the result on.
#[cfg(feature = "ssr")]
pub(crate) fn finish<T>(result: Result<T, crate::error::AppError>) -> Result<T, crate::error::AppError> {
    if let Err(e) = &result
        && let Some(opts) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>()
        && let Ok(code) = axum::http::StatusCode::from_u16(e.status())
    {
        opts.set_status(code);
    }
    result
}
