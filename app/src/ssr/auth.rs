//! Who is calling: the session's user, or in `dev` mode the anonymous demo viewer.

use super::config::AuthMode;
use super::sessions::{SessionUser, USER_KEY};
use super::state::AppState;
use crate::error::AppError;
use crate::model::{Role, Viewer, roles_allow};
use tower_sessions::Session;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub subject: String,
    pub name: String,
    pub roles: Vec<Role>,
    pub anonymous: bool,
}

impl Caller {
    pub fn dev_anonymous() -> Caller {
        Caller {
            subject: "anonymous".into(),
            name: "Demo viewer".into(),
            roles: vec![Role::Viewer],
            anonymous: true,
        }
    }

    /// Err(Forbidden) unless the caller holds `role` (or one that includes it).
    pub fn require(&self, role: Role) -> Result<(), AppError> {
        if roles_allow(&self.roles, role) {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!("this needs the {} role", role.label())))
        }
    }

    pub fn viewer(&self, mode: AuthMode) -> Viewer {
        Viewer {
            subject: self.subject.clone(),
            name: self.name.clone(),
            roles: self.roles.clone(),
            anonymous: self.anonymous,
            auth_mode: match mode {
                AuthMode::Dev => "dev".into(),
                AuthMode::Oidc => "oidc".into(),
            },
        }
    }
}

/// The caller of a request, from its session. A session past its absolute lifetime is ended.
pub async fn caller_from_session(state: &AppState, session: &Session) -> Result<Caller, AppError> {
    let user: Option<SessionUser> = session
        .get(USER_KEY)
        .await
        .map_err(|e| AppError::Unavailable(format!("session store: {e}")))?;
    if let Some(u) = user {
        let max_age = i64::from(state.config.auth.absolute_hours) * 3600;
        if chrono::Utc::now().timestamp() - u.login_at <= max_age {
            return Ok(Caller {
                subject: u.subject,
                name: u.name,
                roles: u.roles,
                anonymous: false,
            });
        }
        session
            .flush()
            .await
            .map_err(|e| AppError::Unavailable(format!("session store: {e}")))?;
    }
    match state.config.auth.mode {
        AuthMode::Dev => Ok(Caller::dev_anonymous()),
        AuthMode::Oidc => Err(AppError::Unauthenticated),
    }
}

/// The state and caller inside a server function or an SSR render.
pub async fn current() -> Result<(AppState, Caller), AppError> {
    let state = leptos::prelude::use_context::<AppState>()
        .ok_or_else(|| AppError::Internal("application state missing".into()))?;
    let session: Session = leptos_axum::extract()
        .await
        .map_err(|e| AppError::Internal(format!("no session layer: {e}")))?;
    let caller = caller_from_session(&state, &session).await?;
    Ok((state, caller))
}

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
