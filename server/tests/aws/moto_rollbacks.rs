//! The two-person rule of a rollback against moto's ECS, tried as an attacker would: API tokens,
//! the requester's own grants (emergency, read-only, approved for rollback), a prod rollback
//! without an open incident, and targets or services that are not the environment's own. Each
//! test ends by reading ECS: what must not have happened did not.

use crate::common::{self, TestApp, spawn_app_with};

/// A prod environment on moto with an operator role, and the given access profiles (TOML).
fn prod(url: &str, profiles: &str) -> String {
    format!(
        r#"demo = false
[[environments]]
name = "shop-production"
tier = "prod"
region = "us-east-1"
endpoint_url = "{url}"
operator_role_arn = "arn:aws:iam::123456789012:role/ops-console-operate"
{profiles}"#
    )
}

async fn task_definition_now(ecs: &aws_sdk_ecs::Client, cluster: &str, service: &str) -> String {
    let d = ecs
        .describe_services()
        .cluster(cluster)
        .services(service)
        .send()
        .await
        .expect("describe");
    d.services()[0].task_definition().unwrap_or_default().to_string()
}

/// What `who` sees of the rollbacks of `two`'s service in `env` (`rollbacks/target`).
async fn rollback_target(
    app: &TestApp,
    who: &reqwest::Client,
    env: &str,
    two: &common::TwoRevisions,
) -> serde_json::Value {
    app.call_as(
        who,
        "rollbacks/target",
        &[
            ("environment", env),
            ("cluster", &two.cluster),
            ("service", &two.service),
        ],
    )
    .await
    .1
}

async fn declare(app: &TestApp, who: &reqwest::Client, env: &str, severity: &str) -> String {
    let (s, id) = app
        .call_as(
            who,
            "incidents/declare",
            &[("environment", env), ("title", "checkout 5xx"), ("severity", severity)],
        )
        .await;
    assert_eq!(s, 200, "{id}");
    id.as_i64().expect("incident id").to_string()
}

#[tokio::test]
async fn api_tokens_can_neither_request_nor_confirm_a_rollback() {
    let url = common::moto_url();
    let ecs = aws_sdk_ecs::Client::new(&common::moto_sdk(&url).await);
    let two = common::ecs_service_on_revision_2(&ecs, "tk").await;
    let app = spawn_app_with(&prod(&url, "")).await;
    let alice = app.session_as("alice", "responder").await;
    let carol = app.session_as("carol", "admin").await;
    let incident = declare(&app, &alice, "shop-production", "2").await;

    // An admin mints two responder tokens: one to ask, one to confirm.
    let mut tokens = Vec::new();
    for name in ["ask", "confirm"] {
        let (s, created) = app
            .call_as(
                &carol,
                "tokens/create",
                &[("name", name), ("role", "responder"), ("days", "1")],
            )
            .await;
        assert_eq!(s, 200, "{created}");
        tokens.push(created["token"].as_str().expect("token").to_string());
    }
    let bearer = |token: &str, endpoint: &str, form: Vec<(&'static str, String)>| {
        let (url, token, endpoint) = (app.url.clone(), token.to_string(), endpoint.to_string());
        async move {
            let r = reqwest::Client::new()
                .post(format!("{url}/api/v1/{endpoint}"))
                .bearer_auth(token)
                .form(&form)
                .send()
                .await
                .expect("bearer call");
            (r.status().as_u16(), r.text().await.expect("body"))
        }
    };
    let ask = |who: &str| {
        vec![
            ("environment", "shop-production".to_string()),
            ("cluster", two.cluster.clone()),
            ("service", two.service.clone()),
            ("to", format!("{}:1", two.family)),
            ("reason", format!("bad deploy ({who})")),
            ("incident", incident.clone()),
        ]
    };
    let (s, body) = bearer(&tokens[0], "rollbacks/request", ask("token")).await;
    assert_eq!(s, 403, "a token cannot ask for a rollback: {body}");
    assert!(body.contains("not API tokens"), "{body}");

    // alice asks in her own name; neither token confirms it.
    let (s, rid) = app
        .call_as(
            &alice,
            "rollbacks/request",
            &ask("alice").iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>(),
        )
        .await;
    assert_eq!(s, 200, "{rid}");
    let rid = rid.as_i64().expect("rollback id").to_string();
    for t in &tokens {
        let (s, body) = bearer(t, "rollbacks/confirm", vec![("id", rid.clone())]).await;
        assert_eq!(s, 403, "a token cannot confirm: {body}");
    }
    assert_eq!(
        task_definition_now(&ecs, &two.cluster, &two.service).await,
        two.arns[1],
        "nothing changed in ECS"
    );
    let target = rollback_target(&app, &alice, "shop-production", &two).await;
    assert_eq!(target["rollbacks"][0]["status"], "pending", "{target}");
    let refused = app
        .state
        .store
        .audit_all(None)
        .await
        .expect("audit")
        .into_iter()
        .filter(|e| e.entry.action == "request.refused")
        .count();
    assert_eq!(refused, 3, "each token refusal is audited");
}

#[tokio::test]
async fn an_emergency_grant_is_never_the_second_key() {
    let url = common::moto_url();
    let ecs = aws_sdk_ecs::Client::new(&common::moto_sdk(&url).await);
    let two = common::ecs_service_on_revision_2(&ecs, "eg").await;
    // Even a break-glass profile that claims to allow rollback.
    let app = spawn_app_with(&prod(
        &url,
        r#"
[[environments.access_profiles]]
name = "prod-break-glass"
role_arn = "arn:aws:iam::123456789012:role/prod-break-glass"
max_minutes = 30
approver_groups = ["tech-leads"]
require_mfa = false
emergency = true
allows_rollback = true
"#,
    ))
    .await;
    let alice = app.session_as("alice", "responder").await;
    // One responder alone: declares a SEV1, takes break-glass, activates, rolls back prod.
    let incident = declare(&app, &alice, "shop-production", "1").await;
    let (s, gid) = app
        .call_as(
            &alice,
            "access/emergency",
            &[
                ("environment", "shop-production"),
                ("profile", "prod-break-glass"),
                ("incident", &incident),
                ("reason", "checkout down"),
            ],
        )
        .await;
    assert_eq!(s, 200, "{gid}");
    let gid = gid.as_i64().expect("grant id").to_string();
    let (s, creds) = app.call_as(&alice, "access/activate", &[("id", &gid)]).await;
    assert_eq!(s, 200, "{creds}");
    let (s, rid) = app
        .call_as(
            &alice,
            "rollbacks/request",
            &[
                ("environment", "shop-production"),
                ("cluster", &two.cluster),
                ("service", &two.service),
                ("to", &format!("{}:1", two.family)),
                ("reason", "alone"),
                ("incident", &incident),
            ],
        )
        .await;
    assert_eq!(s, 200, "{rid}");
    let target = rollback_target(&app, &alice, "shop-production", &two).await;
    assert_eq!(target["rollbacks"][0]["status"], "pending", "{target}");
    assert!(target["rollbacks"][0]["confirmed_by"].is_null(), "{target}");
    assert_eq!(
        task_definition_now(&ecs, &two.cluster, &two.service).await,
        two.arns[1],
        "nothing changed in ECS on an emergency grant"
    );
}

/// An approved grant confirms its holder's rollback only when its profile allows rollback.
#[tokio::test]
async fn only_a_grant_approved_for_rollback_by_someone_else_is_the_second_key() {
    let url = common::moto_url();
    let ecs = aws_sdk_ecs::Client::new(&common::moto_sdk(&url).await);
    let two = common::ecs_service_on_revision_2(&ecs, "ro").await;
    // Created before the console reads the inventory (cached for a while).
    let other = common::ecs_service_on_revision_2(&ecs, "ro2").await;
    let app = spawn_app_with(&prod(
        &url,
        r#"
[[environments.access_profiles]]
name = "prod-readonly"
role_arn = "arn:aws:iam::123456789012:role/prod-readonly"
approver_groups = ["tech-leads"]
require_mfa = false

[[environments.access_profiles]]
name = "prod-operate"
role_arn = "arn:aws:iam::123456789012:role/prod-operate"
approver_groups = ["tech-leads"]
require_mfa = false
allows_rollback = true
"#,
    ))
    .await;
    let alice = app.session_as("alice", "responder").await;
    let bob = app.session_as("bob", "approver").await;
    let incident = declare(&app, &alice, "shop-production", "2").await;
    let grant = |profile: &'static str| {
        let (app, alice, bob) = (&app, &alice, &bob);
        async move {
            let (s, id) = app
                .call_as(
                    alice,
                    "access/request",
                    &[
                        ("environment", "shop-production"),
                        ("profile", profile),
                        ("reason", "look at the service"),
                        ("minutes", "20"),
                    ],
                )
                .await;
            assert_eq!(s, 200, "{id}");
            let id = id.as_i64().expect("id").to_string();
            let (s, _) = app
                .call_as(bob, "access/decide", &[("id", id.as_str()), ("decision", "approve")])
                .await;
            assert_eq!(s, 200);
            let (s, creds) = app.call_as(alice, "access/activate", &[("id", id.as_str())]).await;
            assert_eq!(s, 200, "{creds}");
            id
        }
    };
    let ask = |two: &common::TwoRevisions| {
        let (app, alice, incident) = (&app, &alice, incident.clone());
        let (cluster, service, to) = (two.cluster.clone(), two.service.clone(), format!("{}:1", two.family));
        async move {
            let (s, id) = app
                .call_as(
                    alice,
                    "rollbacks/request",
                    &[
                        ("environment", "shop-production"),
                        ("cluster", &cluster),
                        ("service", &service),
                        ("to", &to),
                        ("reason", "5xx"),
                        ("incident", &incident),
                    ],
                )
                .await;
            assert_eq!(s, 200, "{id}");
            let (_, target) = app
                .call_as(
                    alice,
                    "rollbacks/target",
                    &[
                        ("environment", "shop-production"),
                        ("cluster", &cluster),
                        ("service", &service),
                    ],
                )
                .await;
            target["rollbacks"][0].clone()
        }
    };

    // A read-only grant, approved by bob, is not consent to deploy.
    grant("prod-readonly").await;
    let r = ask(&two).await;
    assert_eq!(r["status"], "pending", "{r}");
    assert!(r["confirmed_by"].is_null(), "{r}");
    assert_eq!(task_definition_now(&ecs, &two.cluster, &two.service).await, two.arns[1]);

    // A grant of a profile that allows rollback, approved by bob, confirms at once in its name.
    let operate = grant("prod-operate").await;
    let r = ask(&other).await;
    assert_eq!(r["confirmed_by"], format!("grant:access-{operate}"), "{r}");
    assert_eq!(
        task_definition_now(&ecs, &other.cluster, &other.service).await,
        other.arns[0],
        "rolled back on the grant bob approved for it"
    );
}

#[tokio::test]
async fn a_prod_rollback_needs_an_open_incident_of_its_environment_until_it_is_confirmed() {
    let url = common::moto_url();
    let ecs = aws_sdk_ecs::Client::new(&common::moto_sdk(&url).await);
    let two = common::ecs_service_on_revision_2(&ecs, "pi").await;
    let app = spawn_app_with(&format!(
        "{}
[[environments]]
name = \"shop-staging\"
tier = \"staging\"
region = \"us-east-1\"
endpoint_url = \"{url}\"
operator_role_arn = \"arn:aws:iam::123456789012:role/ops-console-operate\"
",
        prod(&url, "")
    ))
    .await;
    let alice = app.session_as("alice", "responder").await;
    let bob = app.session_as("bob", "approver").await;
    let to = format!("{}:1", two.family);
    let ask = |incident: &str| {
        vec![
            ("environment", "shop-production".to_string()),
            ("cluster", two.cluster.clone()),
            ("service", two.service.clone()),
            ("to", to.clone()),
            ("reason", "5xx".to_string()),
            ("incident", incident.to_string()),
        ]
    };
    let request = |incident: String| {
        let (app, alice, form) = (&app, &alice, ask(&incident));
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            app.call_as(alice, "rollbacks/request", &form).await
        }
    };

    // No incident at all; the page says so before anyone tries.
    let target = rollback_target(&app, &alice, "shop-production", &two).await;
    assert_eq!(target["needs_incident"], true, "{target}");
    assert!(
        target["disabled_reason"]
            .as_str()
            .unwrap_or_default()
            .contains("open incident"),
        "{target}"
    );
    let (s, body) = request(String::new()).await;
    assert_eq!(s, 422, "{body}");
    assert!(body.to_string().contains("needs an open incident"), "{body}");
    // An open incident of another environment does not count.
    let staging = declare(&app, &alice, "shop-staging", "2").await;
    let (s, body) = request(staging).await;
    assert_eq!(s, 422, "{body}");
    // A resolved incident of this environment does not count.
    let old = declare(&app, &alice, "shop-production", "3").await;
    let (s, _) = app
        .call_as(&alice, "incidents/status", &[("id", &old), ("to", "resolved")])
        .await;
    assert_eq!(s, 200);
    let (s, body) = request(old).await;
    assert_eq!(s, 422, "{body}");
    assert!(body.to_string().contains("resolved"), "{body}");

    // Asked during an open incident, then the incident is resolved before bob confirms: refused.
    let open = declare(&app, &alice, "shop-production", "2").await;
    let target = rollback_target(&app, &alice, "shop-production", &two).await;
    assert!(target["disabled_reason"].is_null(), "{target}");
    assert_eq!(target["open_incidents"][0]["id"].to_string(), open, "{target}");
    let (s, rid) = request(open.clone()).await;
    assert_eq!(s, 200, "{rid}");
    let rid = rid.as_i64().expect("rollback id").to_string();
    let (s, _) = app
        .call_as(&alice, "incidents/status", &[("id", &open), ("to", "resolved")])
        .await;
    assert_eq!(s, 200);
    let (s, body) = app.call_as(&bob, "rollbacks/confirm", &[("id", &rid)]).await;
    assert_eq!(s, 409, "{body}");
    assert!(body.to_string().contains("no longer open"), "{body}");
    assert_eq!(
        task_definition_now(&ecs, &two.cluster, &two.service).await,
        two.arns[1],
        "nothing changed in ECS"
    );
}

#[tokio::test]
async fn a_rollback_goes_only_to_an_earlier_revision_of_a_service_the_environment_owns() {
    let url = common::moto_url();
    let sdk = common::moto_sdk(&url).await;
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    let two = common::ecs_service_on_revision_2(&ecs, "ow").await;
    let tag = format!("{:08x}", rand::random::<u32>());
    // Two environments in one account and region, told apart by their selector tag; the service's
    // cluster carries environment a's tag.
    let cluster_arn = ecs
        .describe_clusters()
        .clusters(&two.cluster)
        .send()
        .await
        .expect("cluster")
        .clusters()[0]
        .cluster_arn()
        .expect("arn")
        .to_string();
    ecs.tag_resource()
        .resource_arn(&cluster_arn)
        .tags(
            aws_sdk_ecs::types::Tag::builder()
                .key("Environment")
                .value(format!("a-{tag}"))
                .build(),
        )
        .send()
        .await
        .expect("tag");
    // Another family in the same account, and a third revision registered but never deployed.
    let other = ecs
        .register_task_definition()
        .family(format!("other-{tag}"))
        .container_definitions(
            aws_sdk_ecs::types::ContainerDefinition::builder()
                .name("x")
                .image("evil/image:1")
                .memory(128)
                .build(),
        )
        .send()
        .await
        .expect("other family");
    let other = other
        .task_definition()
        .and_then(|t| t.task_definition_arn())
        .expect("arn")
        .to_string();
    let env = |name: &str, value: String| {
        format!(
            r#"
[[environments]]
name = "{name}"
tier = "staging"
region = "us-east-1"
endpoint_url = "{url}"
operator_role_arn = "arn:aws:iam::123456789012:role/ops-console-operate"
selector = {{ tag_key = "Environment", tag_value = "{value}" }}
"#
        )
    };
    let app = spawn_app_with(&format!(
        "demo = false\n{}{}",
        env("shop-a", format!("a-{tag}")),
        env("shop-b", format!("b-{tag}"))
    ))
    .await;
    let alice = app.session_as("alice", "responder").await;
    let ask = |env: &str, to: &str| {
        vec![
            ("environment", env.to_string()),
            ("cluster", two.cluster.clone()),
            ("service", two.service.clone()),
            ("to", to.to_string()),
            ("reason", "5xx".to_string()),
        ]
    };
    let request = |form: Vec<(&'static str, String)>| {
        let (app, alice) = (&app, &alice);
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            app.call_as(alice, "rollbacks/request", &form).await
        }
    };
    let one = format!("{}:1", two.family);

    // Environment b does not own the service: refused, and its page says why.
    let (s, body) = request(ask("shop-b", &one)).await;
    assert_eq!(s, 422, "{body}");
    assert!(body.to_string().contains("not in the inventory of shop-b"), "{body}");
    let target = rollback_target(&app, &alice, "shop-b", &two).await;
    assert!(
        target["disabled_reason"]
            .as_str()
            .unwrap_or_default()
            .contains("not in the inventory"),
        "{target}"
    );
    // Environment a owns it, but not to another family, nor to the revision it runs.
    let (s, body) = request(ask("shop-a", &other)).await;
    assert_eq!(s, 422, "{body}");
    assert!(
        body.to_string().contains("not of the service's task-definition family"),
        "{body}"
    );
    let (s, body) = request(ask("shop-a", &format!("{}:2", two.family))).await;
    assert_eq!(s, 422, "{body}");
    assert!(body.to_string().contains("earlier revision"), "{body}");
    assert_eq!(task_definition_now(&ecs, &two.cluster, &two.service).await, two.arns[1]);
    // The earlier revision of its own family, in the environment that owns it: asked.
    let (s, body) = request(ask("shop-a", &one)).await;
    assert_eq!(s, 200, "{body}");
}

#[tokio::test]
async fn two_requests_at_once_make_one_rollback() {
    let url = common::moto_url();
    let ecs = aws_sdk_ecs::Client::new(&common::moto_sdk(&url).await);
    let two = common::ecs_service_on_revision_2(&ecs, "rc").await;
    let app = spawn_app_with(&format!(
        r#"demo = false
[[environments]]
name = "shop-staging"
tier = "staging"
region = "us-east-1"
endpoint_url = "{url}"
operator_role_arn = "arn:aws:iam::123456789012:role/ops-console-operate"
"#
    ))
    .await;
    let alice = app.session_as("alice", "responder").await;
    let carol = app.session_as("carol", "responder").await;
    let to = format!("{}:1", two.family);
    let ask = [
        ("environment", "shop-staging"),
        ("cluster", two.cluster.as_str()),
        ("service", two.service.as_str()),
        ("to", to.as_str()),
        ("reason", "5xx"),
    ];
    let (a, c) = tokio::join!(
        app.call_as(&alice, "rollbacks/request", &ask),
        app.call_as(&carol, "rollbacks/request", &ask)
    );
    let mut statuses = [a.0, c.0];
    statuses.sort();
    assert_eq!(statuses, [200, 409], "{a:?} {c:?}");
    let target = rollback_target(&app, &alice, "shop-staging", &two).await;
    assert_eq!(target["rollbacks"].as_array().map(Vec::len), Some(1), "{target}");
}

/// One person with two accounts at the identity provider (one verified email, any case) is one
/// person to the rollback's two-person rule too.
#[tokio::test]
async fn a_second_account_with_the_same_verified_email_cannot_confirm_a_rollback() {
    let url = common::moto_url();
    let ecs = aws_sdk_ecs::Client::new(&common::moto_sdk(&url).await);
    let two = common::ecs_service_on_revision_2(&ecs, "em").await;
    let issuer = common::oidc_provider();
    let t = format!("{:06x}", rand::random::<u32>() & 0xff_ffff);
    let (alice, alice2, bob) = (format!("r{t}-alice"), format!("r{t}-Alice"), format!("r{t}-bob"));
    for (sub, email, groups) in [
        (&alice, format!("alice.{t}@example.com"), ["oncall"]),
        (&alice2, format!("Alice.{t}@Example.COM"), ["tech-leads"]),
        (&bob, format!("bob.{t}@example.com"), ["tech-leads"]),
    ] {
        common::oidc_user(
            &issuer,
            sub,
            serde_json::json!({"name": sub, "email": email, "email_verified": true, "groups": groups, "amr": ["pwd", "mfa"]}),
        )
        .await;
    }
    let secret = std::env::temp_dir().join(format!("ops-console-test-oidc-secret-{t}"));
    std::fs::write(&secret, "test-client-secret\n").expect("secret file");
    let app = spawn_app_with(&format!(
        "demo = false\npublic_url = \"{{APP}}\"\n[auth]\nmode = \"oidc\"\nclient_id = \"ops-console-test\"\n\
         issuer_url = \"{issuer}\"\nclient_secret_file = \"{}\"\nredirect_url = \"{{APP}}/auth/callback\"\n\
         [roles]\nresponder = [\"oncall\"]\napprover = [\"tech-leads\"]\n\
         [[environments]]\nname = \"shop-staging\"\ntier = \"staging\"\nregion = \"us-east-1\"\n\
         endpoint_url = \"{url}\"\noperator_role_arn = \"arn:aws:iam::123456789012:role/ops-console-operate\"\n",
        secret.display()
    ))
    .await;
    let (a, _) = common::oidc_session(&app, &alice, "/").await;
    let (a2, _) = common::oidc_session(&app, &alice2, "/").await;
    let (b, _) = common::oidc_session(&app, &bob, "/").await;
    let (s, rid) = app
        .call_as(
            &a,
            "rollbacks/request",
            &[
                ("environment", "shop-staging"),
                ("cluster", &two.cluster),
                ("service", &two.service),
                ("to", &format!("{}:1", two.family)),
                ("reason", "5xx"),
            ],
        )
        .await;
    assert_eq!(s, 200, "{rid}");
    let rid = rid.as_i64().expect("rollback id").to_string();
    let (s, body) = app.call_as(&a2, "rollbacks/confirm", &[("id", &rid)]).await;
    assert_eq!(s, 403, "her second account confirms her own rollback: {body}");
    assert!(body.to_string().contains("two-person rule"), "{body}");
    assert_eq!(task_definition_now(&ecs, &two.cluster, &two.service).await, two.arns[1]);
    let (s, view) = app.call_as(&b, "rollbacks/confirm", &[("id", &rid)]).await;
    assert_eq!(s, 200, "{view}");
    assert_eq!(task_definition_now(&ecs, &two.cluster, &two.service).await, two.arns[0]);
}

/// A pending rollback confirmed after the service moved on (a new deploy) ends instead of putting
/// the old revision back over the new one, and does not block the next request.
#[tokio::test]
async fn a_rollback_confirmed_after_a_new_deploy_ends_instead_of_undoing_it() {
    let url = common::moto_url();
    let ecs = aws_sdk_ecs::Client::new(&common::moto_sdk(&url).await);
    let two = common::ecs_service_on_revision_2(&ecs, "st").await;
    let app = spawn_app_with(&format!(
        r#"demo = false
[[environments]]
name = "shop-staging"
tier = "staging"
region = "us-east-1"
endpoint_url = "{url}"
operator_role_arn = "arn:aws:iam::123456789012:role/ops-console-operate"
"#
    ))
    .await;
    let alice = app.session_as("alice", "responder").await;
    let bob = app.session_as("bob", "approver").await;
    let ask = |to: String| {
        let (app, alice, two) = (&app, &alice, &two);
        async move {
            app.call_as(
                alice,
                "rollbacks/request",
                &[
                    ("environment", "shop-staging"),
                    ("cluster", &two.cluster),
                    ("service", &two.service),
                    ("to", &to),
                    ("reason", "5xx"),
                ],
            )
            .await
        }
    };
    let (s, rid) = ask(format!("{}:1", two.family)).await;
    assert_eq!(s, 200, "{rid}");
    let rid = rid.as_i64().expect("rollback id").to_string();
    // Meanwhile revision 3 (say, a security fix) is deployed.
    let third = ecs
        .register_task_definition()
        .family(&two.family)
        .container_definitions(
            aws_sdk_ecs::types::ContainerDefinition::builder()
                .name("api")
                .image("taskflow/api:1.5.1")
                .memory(512)
                .build(),
        )
        .send()
        .await
        .expect("revision 3");
    let third = third
        .task_definition()
        .and_then(|t| t.task_definition_arn())
        .expect("arn")
        .to_string();
    ecs.update_service()
        .cluster(&two.cluster)
        .service(&two.service)
        .task_definition(&third)
        .send()
        .await
        .expect("deploy 3");
    let (s, body) = app.call_as(&bob, "rollbacks/confirm", &[("id", &rid)]).await;
    assert_eq!(s, 409, "{body}");
    assert!(body.to_string().contains("now runs"), "{body}");
    assert_eq!(
        task_definition_now(&ecs, &two.cluster, &two.service).await,
        third,
        "revision 3 stays"
    );
    // Ended, so the next request is taken.
    let (s, body) = ask(format!("{}:2", two.family)).await;
    assert_eq!(s, 200, "{body}");
}

/// A rollback nobody confirms ends after `access.pending_expiry_minutes` (the rollback job).
#[tokio::test]
async fn a_rollback_nobody_confirms_times_out() {
    let app = spawn_app_with(
        r#"demo = false
[[environments]]
name = "shop-staging"
tier = "staging"
region = "us-east-1"
endpoint_url = "http://127.0.0.1:9"
operator_role_arn = "arn:aws:iam::123456789012:role/ops-console-operate"
"#,
    )
    .await;
    let now = chrono::Utc::now().timestamp_millis();
    let rec = |service: &str, requested_ms: i64| app::ssr::store::RollbackRecord {
        id: 0,
        environment: "shop-staging".into(),
        cluster: "c".into(),
        service: service.into(),
        from_task_definition: "arn:aws:ecs:us-east-1:1:task-definition/api:2".into(),
        to_task_definition: "arn:aws:ecs:us-east-1:1:task-definition/api:1".into(),
        incident_id: None,
        reason: "5xx".into(),
        requested_by: "alice".into(),
        requested_ms,
        confirmed_by: None,
        confirmed_ms: None,
        status: app::model::RollbackStatus::Pending,
        progress: "waiting for a second person to confirm".into(),
        finished_ms: None,
    };
    let store = &app.state.store;
    let old = store
        .rollback_create(&rec("old", now - 61 * 60_000), Box::new(|_| Default::default()))
        .await
        .expect("create")
        .expect("id");
    let fresh = store
        .rollback_create(&rec("fresh", now - 60_000), Box::new(|_| Default::default()))
        .await
        .expect("create")
        .expect("id");
    app::ssr::rollbacks::watch_all(&app.state).await;
    let old = store.rollback_get(old).await.expect("get").expect("old");
    assert_eq!(old.status, app::model::RollbackStatus::TimedOut, "{old:?}");
    assert!(old.progress.contains("nobody confirmed"), "{old:?}");
    let fresh = store.rollback_get(fresh).await.expect("get").expect("fresh");
    assert_eq!(fresh.status, app::model::RollbackStatus::Pending);
}
