use crate::error::AppError;
use crate::model::Viewer;
use leptos::prelude::*;

/// Who the console thinks is calling.
#[server(prefix = "/api/v1", endpoint = "session/whoami")]
pub async fn whoami() -> Result<Viewer, AppError> {
    super::as_caller(move |state, caller| async move { Ok(caller.viewer(state.config.auth.mode)) }).await
}
