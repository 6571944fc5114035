//! ID tokens the console must refuse: signed by another key, for another audience, expired, or
//! with another nonce. A small identity provider in the test (discovery, JWKS, token endpoint)
//! hands out tokens crafted with openidconnect's own signing, and the console's callback must
//! answer 401 with the reason audited, while a well-formed token signs the person in. The same
//! provider says when the person signed in (`auth_time`, or nothing), for the step-up tests.

use crate::common;
use axum::Router;
use axum::routing::{get, post};
use openidconnect::core::{
    CoreGenderClaim, CoreJsonWebKeySet, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
    CoreRsaPrivateSigningKey,
};
use openidconnect::{
    AdditionalClaims, Audience, AuthenticationMethodReference, IdToken, IdTokenClaims, IssuerUrl, JsonWebKeyId, Nonce,
    PrivateSigningKey, StandardClaims, SubjectIdentifier,
};
use std::sync::{Arc, Mutex};

const KEY_A: &str = include_str!("../fixtures/idp-key-a.pem");
const KEY_B: &str = include_str!("../fixtures/idp-key-b.pem");

/// The groups claim the console reads (`auth.groups_claim`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Groups {
    #[serde(default)]
    groups: Vec<String>,
}
impl AdditionalClaims for Groups {}

type Token = IdToken<Groups, CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm>;

/// What the next token will look like.
#[derive(Clone)]
struct Plan {
    sign_with_b: bool,
    audience: String,
    expires_in_s: i64,
    nonce: String,
    groups: Vec<String>,
    amr: Vec<String>,
    /// Seconds before now of the sign-in the token reports (`auth_time`); None: no claim.
    signed_in_ago_s: Option<i64>,
}

#[derive(Clone)]
struct Idp {
    issuer: String,
    plan: Arc<Mutex<Option<Plan>>>,
}

fn key(pem: &str) -> CoreRsaPrivateSigningKey {
    CoreRsaPrivateSigningKey::from_pem(pem, Some(JsonWebKeyId::new("key-a".into()))).expect("test key")
}

async fn spawn_idp() -> Idp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let issuer = format!("http://{}", listener.local_addr().expect("addr"));
    let idp = Idp {
        issuer: issuer.clone(),
        plan: Arc::new(Mutex::new(None)),
    };
    let discovery = serde_json::json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    });
    let jwks = serde_json::to_value(CoreJsonWebKeySet::new(vec![key(KEY_A).as_verification_key()])).expect("jwks");
    let state = idp.clone();
    let app = Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || async move { axum::Json(discovery) }),
        )
        .route("/jwks", get(move || async move { axum::Json(jwks) }))
        .route(
            "/token",
            post(move || {
                let state = state.clone();
                async move {
                    let plan = state.plan.lock().expect("plan").clone().expect("a planned token");
                    let now = chrono::Utc::now();
                    let claims = IdTokenClaims::new(
                        IssuerUrl::new(state.issuer.clone()).expect("issuer"),
                        vec![Audience::new(plan.audience.clone())],
                        now + chrono::Duration::seconds(plan.expires_in_s),
                        now - chrono::Duration::seconds(60),
                        StandardClaims::new(SubjectIdentifier::new("mallory-or-not".into())),
                        Groups {
                            groups: plan.groups.clone(),
                        },
                    )
                    .set_nonce(Some(Nonce::new(plan.nonce.clone())))
                    .set_auth_time(plan.signed_in_ago_s.map(|ago| now - chrono::Duration::seconds(ago)))
                    .set_auth_method_refs((!plan.amr.is_empty()).then(|| {
                        plan.amr
                            .iter()
                            .map(|a| AuthenticationMethodReference::new(a.clone()))
                            .collect()
                    }));
                    let signer = key(if plan.sign_with_b { KEY_B } else { KEY_A });
                    let token = Token::new(
                        claims,
                        &signer,
                        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
                        None,
                        None,
                    )
                    .expect("sign");
                    axum::Json(serde_json::json!({
                        "access_token": "at",
                        "token_type": "Bearer",
                        "expires_in": 300,
                        "id_token": token.to_string(),
                    }))
                }
            }),
        );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    idp
}

fn param(url: &str, name: &str) -> String {
    url::Url::parse(url)
        .expect("url")
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.to_string())
        .unwrap_or_default()
}

/// Starts a login, plans the token from the login's nonce, and returns the callback's status.
async fn attempt(app: &common::TestApp, idp: &Idp, mutate: impl FnOnce(&mut Plan)) -> u16 {
    attempt_at(app, idp, "/login?next=/", mutate).await
}

/// The same from `login` (`/login?step_up=1&next=/` for a step-up).
async fn attempt_at(app: &common::TestApp, idp: &Idp, login: &str, mutate: impl FnOnce(&mut Plan)) -> u16 {
    let r = app
        .client
        .get(format!("{}{login}", app.url))
        .send()
        .await
        .expect("login");
    let authorize = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("location")
        .to_string();
    let mut plan = Plan {
        sign_with_b: false,
        audience: "ops-console-test".into(),
        expires_in_s: 300,
        nonce: param(&authorize, "nonce"),
        groups: vec![],
        amr: vec![],
        signed_in_ago_s: Some(0),
    };
    mutate(&mut plan);
    *idp.plan.lock().expect("plan") = Some(plan);
    let callback = format!(
        "{}/auth/callback?code=c0de&state={}",
        app.url,
        param(&authorize, "state")
    );
    app.client
        .get(callback)
        .send()
        .await
        .expect("callback")
        .status()
        .as_u16()
}

#[tokio::test]
async fn forged_foreign_expired_and_replayed_id_tokens_are_refused() {
    let idp = spawn_idp().await;
    let config = format!(
        "[auth]\nmode = \"oidc\"\nissuer_url = \"{}\"\nclient_id = \"ops-console-test\"\nredirect_url = \"{{APP}}/auth/callback\"\n[roles]\nviewer = [\"ops-readers\"]\n",
        idp.issuer
    );
    let app = common::spawn_app_with(&config).await;
    assert_eq!(
        attempt(&app, &idp, |p| p.sign_with_b = true).await,
        401,
        "signed by a key the provider does not publish"
    );
    assert_eq!(
        attempt(&app, &idp, |p| p.audience = "another-client".into()).await,
        401,
        "issued to another client"
    );
    assert_eq!(attempt(&app, &idp, |p| p.expires_in_s = -600).await, 401, "expired");
    assert_eq!(
        attempt(&app, &idp, |p| p.nonce = "replayed-from-elsewhere".into()).await,
        401,
        "another login's nonce"
    );
    let (_, me) = app.call("session/whoami", &[]).await;
    assert_eq!(me["error"], "unauthenticated", "nobody got in: {me}");
    // The harness is sound: a well-formed token signs the person in.
    assert_eq!(attempt(&app, &idp, |_| {}).await, 303);
    let reasons: Vec<String> = app
        .state
        .store
        .audit_all(None)
        .await
        .expect("audit")
        .into_iter()
        .filter(|e| e.entry.action == "login.failed")
        .map(|e| e.entry.detail)
        .collect();
    assert_eq!(reasons.len(), 4);
    assert!(reasons.iter().all(|r| r.contains("ID token rejected")), "{reasons:?}");
}

fn admin_config(idp: &Idp) -> String {
    format!(
        "[auth]\nmode = \"oidc\"\nissuer_url = \"{}\"\nclient_id = \"ops-console-test\"\nredirect_url = \"{{APP}}/auth/callback\"\n[roles]\nviewer = [\"ops-readers\"]\nadmin = [\"ops-admins\"]\n",
        idp.issuer
    )
}

/// Minting an API token needs a fresh MFA login: the probe of these tests.
async fn mint(app: &common::TestApp) -> (u16, serde_json::Value) {
    app.call("tokens/create", &[("name", "probe"), ("role", "viewer"), ("days", "1")])
        .await
}

fn mfa_admin(p: &mut Plan) {
    p.groups = vec!["ops-admins".into()];
    p.amr = vec!["pwd".into(), "mfa".into()];
}

/// An ID token that says `amr: mfa` but not when the person signed in is not a fresh MFA login
/// (it used to count as one made at the callback).
#[tokio::test]
async fn mfa_without_auth_time_is_not_a_fresh_mfa_login() {
    let idp = spawn_idp().await;
    let app = common::spawn_app_with(&admin_config(&idp)).await;
    let status = attempt(&app, &idp, |p| {
        mfa_admin(p);
        p.signed_in_ago_s = None;
    })
    .await;
    assert_eq!(status, 303, "the login itself is fine");
    let (status, body) = mint(&app).await;
    assert_eq!(status, 403, "MFA at an unknown time: {body}");
    assert!(body.to_string().contains("fresh MFA"), "{body}");
    // The same login with auth_time passes.
    assert_eq!(attempt(&app, &idp, mfa_admin).await, 303);
    let (status, body) = mint(&app).await;
    assert_eq!(status, 200, "{body}");
}

/// A step-up asks for a new sign-in; a provider that answers with its existing session (an
/// `auth_time` before the step-up began, or none) is refused, and groups are read again at
/// every step-up.
#[tokio::test]
async fn a_step_up_must_be_a_new_sign_in_and_reads_groups_again() {
    let idp = spawn_idp().await;
    let app = common::spawn_app_with(&admin_config(&idp)).await;
    let step_up = "/login?step_up=1&next=/";
    // Signed in with MFA 20 minutes ago: no longer fresh.
    let status = attempt(&app, &idp, |p| {
        mfa_admin(p);
        p.signed_in_ago_s = Some(20 * 60);
    })
    .await;
    assert_eq!(status, 303);
    assert_eq!(mint(&app).await.0, 403, "stale MFA");
    // The step-up comes back with the provider's sign-in of 5 minutes ago (within
    // step_up_minutes, so it would pass for fresh) instead of a new one.
    let status = attempt_at(&app, &idp, step_up, |p| {
        mfa_admin(p);
        p.signed_in_ago_s = Some(5 * 60);
    })
    .await;
    assert_eq!(status, 401, "a step-up answered with an old sign-in");
    let status = attempt_at(&app, &idp, step_up, |p| {
        mfa_admin(p);
        p.signed_in_ago_s = None;
    })
    .await;
    assert_eq!(status, 401, "a step-up that does not say when the person signed in");
    let (status, body) = mint(&app).await;
    assert_eq!(status, 403, "still no fresh MFA: {body}");
    let reasons: Vec<String> = app
        .state
        .store
        .audit_all(None)
        .await
        .expect("audit")
        .into_iter()
        .filter(|e| e.entry.action == "login.failed")
        .map(|e| e.entry.detail)
        .collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(reasons[0].contains("before the step-up began"), "{}", reasons[0]);
    assert!(reasons[1].contains("no auth_time"), "{}", reasons[1]);

    // A real new sign-in passes.
    assert_eq!(attempt_at(&app, &idp, step_up, mfa_admin).await, 303);
    let (status, body) = mint(&app).await;
    assert_eq!(status, 200, "{body}");
    // Removed from ops-admins at the provider: the next step-up reads the groups again.
    let status = attempt_at(&app, &idp, step_up, |p| {
        mfa_admin(p);
        p.groups = vec!["ops-readers".into()];
    })
    .await;
    assert_eq!(status, 303);
    let (_, me) = app.call("session/whoami", &[]).await;
    assert_eq!(me["roles"], serde_json::json!(["viewer"]), "{me}");
    assert_eq!(mint(&app).await.0, 403, "no longer an admin");
}
