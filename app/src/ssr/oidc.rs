//! SSO with OpenID Connect (openidconnect 4): discovery, the authorization code flow with PKCE,
//! `state` and `nonce` kept in the session, the ID token's signature, issuer, audience, expiry and
//! nonce checked by openidconnect, userinfo for claims the ID token lacks. The HTTP client follows
//! no redirects (an IdP endpoint that redirects could otherwise send the console anywhere).

use super::config::{AuthConfig, Config};
use base64::Engine;
use openidconnect::core::{CoreAuthPrompt, CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl,
    Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use serde::{Deserialize, Serialize};
use std::time::Duration;

type Client =
    CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointMaybeSet>;

pub struct Oidc {
    client: Client,
    http: reqwest::Client,
    groups_claim: String,
    scopes: Vec<String>,
    userinfo: Option<String>,
    /// RP-initiated logout, when the provider offers it.
    end_session: Option<String>,
    client_id: String,
}

/// The login in progress, kept in the session between `/login` and `/auth/callback`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingLogin {
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
    pub next: String,
    pub started_at: i64,
    /// A step-up: the provider must sign the person in again after `started_at`.
    #[serde(default)]
    pub step_up: bool,
}

/// Clock skew allowed between the provider and the console when a step-up's `auth_time` is
/// compared with the moment the step-up began.
pub const STEP_UP_SKEW_SECS: i64 = 30;

/// What a verified login says about the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginClaims {
    pub subject: String,
    pub email: String,
    /// The provider did not say the email is unverified (`email_verified` is true or absent).
    pub email_verified: bool,
    pub name: String,
    pub groups: Vec<String>,
    pub amr: Vec<String>,
    pub auth_time: Option<i64>,
}

impl Oidc {
    /// Discovers the provider and builds the client.
    pub async fn discover(config: &Config) -> Result<Oidc, String> {
        let auth: &AuthConfig = &config.auth;
        let issuer = auth.issuer_url.clone().ok_or("auth.issuer_url is not set")?;
        let client_id = auth.client_id.clone().ok_or("auth.client_id is not set")?;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        let issuer = IssuerUrl::new(issuer).map_err(|e| format!("auth.issuer_url: {e}"))?;
        let metadata = CoreProviderMetadata::discover_async(issuer.clone(), &http)
            .await
            .map_err(|e| format!("OIDC discovery failed: {e}"))?;
        // end_session_endpoint is not in the core metadata type: read it from the document.
        let end_session = match http
            .get(format!(
                "{}/.well-known/openid-configuration",
                issuer.as_str().trim_end_matches('/')
            ))
            .send()
            .await
        {
            Ok(r) => r
                .json::<serde_json::Value>()
                .await
                .ok()
                .and_then(|d| d["end_session_endpoint"].as_str().map(str::to_string)),
            Err(_) => None,
        };
        let userinfo = metadata.userinfo_endpoint().map(|u| u.url().to_string());
        let secret = Config::secret(
            auth.client_secret_env
                .as_deref()
                .unwrap_or("OPS_CONSOLE_OIDC_CLIENT_SECRET"),
            auth.client_secret_file.as_deref(),
        );
        let redirect = redirect_url(config);
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(client_id.clone()),
            secret.map(ClientSecret::new),
        )
        .set_redirect_uri(RedirectUrl::new(redirect).map_err(|e| format!("auth.redirect_url: {e}"))?);
        Ok(Oidc {
            client,
            http,
            groups_claim: auth.groups_claim.clone(),
            scopes: auth.scopes.clone(),
            userinfo,
            end_session,
            client_id,
        })
    }

    /// Where to send the browser after the console's own logout so the provider ends its session
    /// too (RP-initiated logout), when the provider offers it.
    pub fn logout_url(&self, post_logout_redirect: &str) -> Option<String> {
        let mut url = url::Url::parse(self.end_session.as_deref()?).ok()?;
        url.query_pairs_mut()
            .append_pair("client_id", &self.client_id)
            .append_pair("post_logout_redirect_uri", post_logout_redirect);
        Some(url.to_string())
    }

    /// The provider URL to send the browser to, and what to keep until the callback. A step-up
    /// asks for a new login (`prompt=login`, `max_age=0`).
    pub fn start(&self, next: &str, step_up: bool, now: i64) -> (String, PendingLogin) {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut req = self
            .client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for s in self.scopes.iter().filter(|s| *s != "openid") {
            req = req.add_scope(Scope::new(s.clone()));
        }
        if step_up {
            req = req
                .add_prompt(CoreAuthPrompt::Login)
                .set_max_age(Duration::from_secs(0));
        }
        let (url, state, nonce) = req.url();
        let pending = PendingLogin {
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
            next: next.to_string(),
            started_at: now,
            step_up,
        };
        (url.to_string(), pending)
    }

    /// Exchanges the code and verifies the ID token (signature, issuer, audience, expiry, nonce).
    pub async fn finish(&self, code: &str, pending: &PendingLogin) -> Result<LoginClaims, String> {
        let response = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| format!("token endpoint: {e}"))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(|e| format!("code exchange refused: {e}"))?;
        let id_token = response.id_token().ok_or("the provider returned no ID token")?;
        let verifier = self.client.id_token_verifier();
        let claims = id_token
            .claims(&verifier, &Nonce::new(pending.nonce.clone()))
            .map_err(|e| format!("ID token rejected: {e}"))?;
        // Verified above; the raw payload is read for the configured groups claim.
        let raw = id_token.to_string();
        let payload: serde_json::Value = raw
            .split('.')
            .nth(1)
            .and_then(|p| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(p).ok())
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let mut groups = strings(&payload[self.groups_claim.as_str()]);
        let mut email = claims.email().map(|e| e.to_string()).unwrap_or_default();
        let mut email_verified = claims.email_verified() != Some(false);
        let mut name = claims
            .name()
            .and_then(|n| n.get(None))
            .map(|n| n.to_string())
            .unwrap_or_default();
        if (groups.is_empty() || email.is_empty())
            && let Some(url) = &self.userinfo
        {
            let info: serde_json::Value = self
                .http
                .get(url)
                .bearer_auth(response.access_token().secret())
                .send()
                .await
                .and_then(reqwest::Response::error_for_status)
                .map_err(|e| format!("userinfo: {e}"))?
                .json()
                .await
                .map_err(|e| format!("userinfo: {e}"))?;
            // Userinfo must be about the same person.
            if info["sub"].as_str() == Some(claims.subject().as_str()) {
                if groups.is_empty() {
                    groups = strings(&info[self.groups_claim.as_str()]);
                }
                if email.is_empty() {
                    email = info["email"].as_str().unwrap_or_default().to_string();
                    email_verified = info["email_verified"].as_bool() != Some(false);
                }
                if name.is_empty() {
                    name = info["name"].as_str().unwrap_or_default().to_string();
                }
            }
        }
        let subject = claims.subject().to_string();
        let auth_time = claims.auth_time().map(|t| t.timestamp());
        if pending.step_up {
            step_up_is_new(auth_time, pending.started_at)?;
        }
        Ok(LoginClaims {
            name: if name.is_empty() { subject.clone() } else { name },
            subject,
            email_verified: email_verified && !email.is_empty(),
            email,
            groups,
            amr: claims
                .auth_method_refs()
                .map(|v| v.iter().map(|a| a.to_string()).collect())
                .unwrap_or_default(),
            auth_time,
        })
    }
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    match v {
        serde_json::Value::Array(a) => a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect(),
        serde_json::Value::String(s) => vec![s.clone()],
        _ => vec![],
    }
}

/// `auth.redirect_url`, else `public_url` + /auth/callback, else the listen address.
pub fn redirect_url(config: &Config) -> String {
    if let Some(u) = &config.auth.redirect_url {
        return u.clone();
    }
    format!("{}/auth/callback", config.base_url())
}

/// Console roles from IdP groups (`[roles]`).
pub fn roles_for(config: &Config, groups: &[String]) -> Vec<crate::model::Role> {
    use crate::model::Role;
    let r = &config.roles;
    let mut out = Vec::new();
    for (role, mapped) in [
        (Role::Viewer, &r.viewer),
        (Role::Responder, &r.responder),
        (Role::Approver, &r.approver),
        (Role::Admin, &r.admin),
    ] {
        if mapped.iter().any(|g| groups.contains(g)) {
            out.push(role);
        }
    }
    out
}

/// A step-up asks the provider for a new sign-in (`prompt=login`, `max_age=0`); a provider that
/// answers with its existing session instead must not pass for one. The ID token must say when
/// the person signed in (`auth_time`), and that must be after the step-up began.
pub fn step_up_is_new(auth_time: Option<i64>, started_at: i64) -> Result<(), String> {
    match auth_time {
        None => Err("the step-up needs a new sign-in, and the identity provider did not say when the person signed in (no auth_time)".into()),
        Some(t) if t < started_at - STEP_UP_SKEW_SECS => Err(format!(
            "the step-up needs a new sign-in, and the identity provider answered with a sign-in from {}s before the step-up began (auth_time)",
            started_at - t
        )),
        Some(_) => Ok(()),
    }
}

/// Whether a login satisfies a step-up: an `amr` value that counts as MFA, at a time the provider
/// stated (`auth_time`; without it, no MFA counts), no older than `auth.step_up_minutes`.
pub fn fresh_mfa(auth: &AuthConfig, amr: &[String], auth_time: Option<i64>, now: i64) -> bool {
    let Some(at) = auth_time else {
        return false;
    };
    amr.iter().any(|a| auth.mfa_amr_values.contains(a))
        && now - at <= i64::from(auth.step_up_minutes) * 60
        && at <= now + STEP_UP_SKEW_SECS
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Role;

    #[test]
    fn groups_map_to_roles_and_mfa_must_be_fresh() -> Result<(), Box<dyn std::error::Error>> {
        let c = Config::from_toml_with_overrides(
            "[roles]\nviewer = [\"ops-readers\"]\nresponder = [\"oncall\"]\nadmin = [\"ops-admins\"]\n",
            "t",
            &[],
        )?;
        assert_eq!(roles_for(&c, &["oncall".into(), "x".into()]), vec![Role::Responder]);
        assert_eq!(roles_for(&c, &["nothing".into()]), Vec::<Role>::new());
        let amr = vec!["pwd".to_string(), "mfa".to_string()];
        assert!(fresh_mfa(&c.auth, &amr, Some(1000), 1000 + 9 * 60));
        assert!(
            !fresh_mfa(&c.auth, &amr, Some(1000), 1000 + 11 * 60),
            "older than step_up_minutes"
        );
        assert!(
            !fresh_mfa(&c.auth, &["pwd".to_string()], Some(1000), 1000),
            "no MFA method"
        );
        assert!(
            !fresh_mfa(&c.auth, &amr, None, 1000),
            "MFA at an unknown time is not fresh"
        );
        assert!(!fresh_mfa(&c.auth, &amr, Some(5000), 1000), "a sign-in in the future");
        assert_eq!(redirect_url(&c), "http://127.0.0.1:3000/auth/callback");
        Ok(())
    }

    #[test]
    fn a_step_up_must_be_a_sign_in_after_it_began() {
        assert!(step_up_is_new(None, 1000).is_err(), "no auth_time");
        assert!(
            step_up_is_new(Some(1000 - 300), 1000).is_err(),
            "the provider's old session"
        );
        assert!(
            step_up_is_new(Some(1000 - STEP_UP_SKEW_SECS), 1000).is_ok(),
            "within the skew"
        );
        assert!(step_up_is_new(Some(1005), 1000).is_ok());
    }
}
