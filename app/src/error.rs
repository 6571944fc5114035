//! The one error type every server function returns. It travels to the client as JSON and is
//! mapped to an HTTP status in one place (`AppError::status`), which server functions apply through
//! `crate::api::fail` so that curl and scripts see 401/403/404/422 rather than a blanket 500.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "error", content = "message", rename_all = "snake_case")]
pub enum AppError {
    /// No session and the console is not in dev mode.
    #[error("not signed in")]
    Unauthenticated,
    /// Signed in, but the caller's roles do not allow this.
    #[error("not allowed: {0}")]
    Forbidden(String),
    #[error("not found: {0}")]
    NotFound(String),
    /// The input was rejected; the message says which field and why.
    #[error("invalid input: {0}")]
    Invalid(String),
    /// The thing changed meanwhile (another person acted first); reload and decide again.
    #[error("conflict: {0}")]
    Conflict(String),
    /// A peer (AWS, the database) failed; the message is safe to show.
    #[error("unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
    /// Transport or encoding trouble reported by the server-function machinery.
    #[error("request failed: {0}")]
    Transport(String),
}

impl AppError {
    /// HTTP status for this error: the single mapping point.
    pub fn status(&self) -> u16 {
        match self {
            AppError::Unauthenticated => 401,
            AppError::Forbidden(_) => 403,
            AppError::NotFound(_) => 404,
            AppError::Invalid(_) => 422,
            AppError::Conflict(_) => 409,
            AppError::Unavailable(_) => 503,
            AppError::Internal(_) | AppError::Transport(_) => 500,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        AppError::Transport(value.to_string())
    }
}
