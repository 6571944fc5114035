//! The kernel under the domain areas (`incidents`, `rollbacks`, `access`): the clock, validated
//! input, the builders of an action's effects, and the conversion of store errors into `AppError`.
//! Areas may use the kernel and each other's public functions in one direction only
//! (incidents → rollbacks → access); nothing here uses an area.

/// The one clock lives below the store (which stamps rows with it); the kernel passes it on.
pub use super::clock;
pub mod effects;
pub mod input;
pub mod memo;
pub mod request;
pub mod secrets;

use super::cloud::CloudError;
use super::store::StoreError;
use crate::error::AppError;

/// A store failure becomes 503 for the caller, logged once here with its cause.
impl From<StoreError> for AppError {
    fn from(e: StoreError) -> AppError {
        tracing::error!(error = %e, "store");
        AppError::Unavailable(e.to_string())
    }
}

/// An AWS read or call that failed becomes 503 with what AWS said (safe to show: service,
/// operation and message), logged once here.
impl From<CloudError> for AppError {
    fn from(e: CloudError) -> AppError {
        tracing::warn!(error = %e, "cloud");
        AppError::Unavailable(e.to_string())
    }
}
