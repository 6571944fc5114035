//! ID tokens the console must refuse: signed by another key, for another audience, expired, or
//! with another nonce. A small identity provider in the test (discovery, JWKS, token endpoint)
//! hands out tokens crafted with openidconnect's own signing, and the console's callback must
//! answer 401 with the reason audited, while a well-formed token signs the person in.

use crate::common;
use axum::Router;
use axum::routing::{get, post};
use openidconnect::core::{
    CoreIdToken, CoreIdTokenClaims, CoreJsonWebKeySet, CoreJwsSigningAlgorithm, CoreRsaPrivateSigningKey,
};
use openidconnect::{
    Audience, EmptyAdditionalClaims, IssuerUrl, JsonWebKeyId, Nonce, PrivateSigningKey, StandardClaims,
    SubjectIdentifier,
};
use std::sync::{Arc, Mutex};

const KEY_A: &str = include_str!("../fixtures/idp-key-a.pem");
const KEY_B: &str = include_str!("../fixtures/idp-key-b.pem");

/// What the next token will look like.
#[derive(Clone)]
struct Plan {
    sign_with_b: bool,
    audience: String,
    expires_in_s: i64,
    nonce: String,
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
                    let claims = CoreIdTokenClaims::new(
                        IssuerUrl::new(state.issuer.clone()).expect("issuer"),
                        vec![Audience::new(plan.audience.clone())],
                        now + chrono::Duration::seconds(plan.expires_in_s),
                        now - chrono::Duration::seconds(60),
                        StandardClaims::new(SubjectIdentifier::new("mallory-or-not".into())),
                        EmptyAdditionalClaims {},
                    )
                    .set_nonce(Some(Nonce::new(plan.nonce.clone())));
                    let signer = key(if plan.sign_with_b { KEY_B } else { KEY_A });
                    let token = CoreIdToken::new(
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
    let r = app
        .client
        .get(format!("{}/login?next=/", app.url))
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
