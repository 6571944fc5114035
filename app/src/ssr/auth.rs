//! Who is calling: the session's user, or in `dev` mode the anonymous demo viewer.

use super::config::AuthMode;
use super::kernel::secrets::{hash, id_of, same_secret};
use super::sessions::{SessionUser, USER_KEY};
use super::state::AppState;
use super::store::Store;
use crate::error::AppError;
use crate::model::{Role, Viewer, roles_allow};
use tower_sessions::Session;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub subject: String,
    pub name: String,
    pub roles: Vec<Role>,
    /// Identity-provider groups (dev logins: the groups `[roles]` maps to the chosen role).
    pub groups: Vec<String>,
    pub anonymous: bool,
    /// The login used MFA (`amr`) within `auth.step_up_minutes`.
    pub fresh_mfa: bool,
    /// Authenticated by an API token, not a browser session.
    pub token: bool,
}

impl Caller {
    pub fn dev_anonymous() -> Caller {
        Caller {
            subject: "anonymous".into(),
            name: "Demo viewer".into(),
            roles: vec![Role::Viewer],
            groups: vec![],
            anonymous: true,
            fresh_mfa: false,
            token: false,
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

    /// Err unless the caller signed in with MFA recently (oidc mode; the dev login has no MFA and
    /// dev mode does not ask for it). API tokens never pass.
    pub fn require_fresh_mfa(&self, mode: AuthMode, next: &str) -> Result<(), AppError> {
        if self.token {
            return Err(AppError::Forbidden(
                "this needs a person with a fresh MFA login, not an API token".into(),
            ));
        }
        if mode == AuthMode::Dev || self.fresh_mfa {
            return Ok(());
        }
        let next: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
        Err(AppError::Forbidden(format!(
            "this needs a fresh MFA login: sign in again at /login?step_up=1&next={next}"
        )))
    }

    /// Member of any of `groups`.
    pub fn in_any(&self, groups: &[String]) -> bool {
        self.groups.iter().any(|g| groups.contains(g))
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

/// The caller of a request, from its session. A session past its absolute lifetime is ended: an
/// approver's sooner (`auth.approver_absolute_hours`), since roles and groups are read at login.
pub async fn caller_from_session(state: &AppState, session: &Session) -> Result<Caller, AppError> {
    let user: Option<SessionUser> = session
        .get(USER_KEY)
        .await
        .map_err(|e| AppError::Unavailable(format!("session store: {e}")))?;
    if let Some(u) = user {
        let approver = u.roles.contains(&Role::Approver);
        let max_age = i64::from(state.config.auth.session_hours(approver)) * 3600;
        let now = crate::ssr::clock::now_secs();
        if now - u.login_at <= max_age {
            let fresh_mfa = super::oidc::fresh_mfa(&state.config.auth, &u.amr, u.auth_time, now);
            return Ok(Caller {
                subject: u.subject,
                name: u.name,
                roles: u.roles,
                groups: u.groups,
                anonymous: false,
                fresh_mfa,
                token: false,
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
    // Automation: `Authorization: Bearer opc_…` (a bad token is refused, never read as anonymous).
    let bearer = leptos::prelude::use_context::<axum::http::request::Parts>().and_then(|p| {
        p.headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| t.trim().to_string())
    });
    if let Some(token) = bearer {
        let caller = caller_for(&state, &token).await?;
        return Ok((state, caller));
    }
    let session: Session = leptos_axum::extract()
        .await
        .map_err(|e| AppError::Internal(format!("no session layer: {e}")))?;
    let caller = caller_from_session(&state, &session).await?;
    Ok((state, caller))
}

/// The caller a bearer token stands for; unknown, revoked or expired tokens are refused.
async fn caller_for(state: &AppState, token: &str) -> Result<Caller, AppError> {
    let refused = || AppError::Unauthenticated;
    let id = id_of(token).ok_or_else(refused)?;
    let record = state.store.token_get(id).await?.ok_or_else(refused)?;
    let now = crate::ssr::clock::now();
    if !same_secret(&record.token_hash, &hash(token)) || record.revoked_ms.is_some() || record.expires_ms <= now {
        return Err(refused());
    }
    let role = Role::parse(&record.role).ok_or_else(refused)?;
    if let Err(e) = state.store.token_touch(id, now).await {
        tracing::warn!(error = %e, token = id, "could not record the token's use");
    }
    tracing::info!(token = id, name = %record.name, "API token used");
    Ok(Caller {
        subject: format!("token:{id}"),
        name: format!("API token {} ({}), issued by {}", record.name, id, record.created_by),
        roles: vec![role],
        groups: vec![],
        anonymous: false,
        fresh_mfa: false,
        token: true,
    })
}

/// The person behind a subject: an API token (`token:<id>`) stands for whoever created it.
async fn person_of(store: &dyn Store, subject: &str) -> Result<String, AppError> {
    if let Some(id) = subject.strip_prefix("token:")
        && let Some(t) = store.token_get(id).await?
    {
        return Ok(t.created_by);
    }
    Ok(subject.to_string())
}

/// The verified email of a subject's last login (empty when the provider gave none or said it
/// is unverified), lower-cased.
async fn verified_email(store: &dyn Store, subject: &str) -> Result<Option<String>, AppError> {
    Ok(store
        .user(subject)
        .await?
        .map(|u| u.email.trim().to_lowercase())
        .filter(|e| !e.is_empty()))
}

/// Whether two subjects are one person: the same subject, an API token and the person who created
/// it, or two accounts at the identity provider with one verified email (case-insensitive). The
/// one place the two-person rule asks "is this somebody else?" (access decisions and reviews,
/// rollback confirmation).
pub async fn same_person(store: &dyn Store, a: &str, b: &str) -> Result<bool, AppError> {
    let (a, b) = (person_of(store, a).await?, person_of(store, b).await?);
    if a == b {
        return Ok(true);
    }
    let (ea, eb) = (verified_email(store, &a).await?, verified_email(store, &b).await?);
    Ok(matches!((ea, eb), (Some(x), Some(y)) if x == y))
}

/// Err(Forbidden, "two-person rule: …") when `actor` is the same person as `owner` (see
/// `same_person`); `what` says what the actor may not do, e.g. "approves or denies their own
/// access request".
pub async fn refuse_same_person(store: &dyn Store, actor: &str, owner: &str, what: &str) -> Result<(), AppError> {
    if same_person(store, actor, owner).await? {
        return Err(AppError::Forbidden(format!(
            "two-person rule: nobody {what} (the same person: the same login, a token they created, or an account with the same verified email)"
        )));
    }
    Ok(())
}
