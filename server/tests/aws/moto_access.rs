//! Grants against moto's STS and IAM: the credentials are real temporary credentials of the
//! profile's role with a session named after the request and the person, and revocation writes
//! the session-scoped deny policy. (Grants as a rollback's second key: moto_rollbacks.)

use crate::common::{self, spawn_app_with};

#[tokio::test]
async fn a_grant_is_a_real_role_session_and_revocation_denies_it() {
    let url = common::moto_url();
    let config = common::moto_sdk(&url).await;
    let iam = aws_sdk_iam::Client::new(&config);
    let ecs = aws_sdk_ecs::Client::new(&config);
    let tag = format!("{:08x}", rand::random::<u32>());
    let role = iam
        .create_role()
        .role_name(format!("prod-readonly-{tag}"))
        .assume_role_policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":["sts:AssumeRole","sts:TagSession","sts:SetSourceIdentity"]}]}"#,
        )
        .send()
        .await
        .expect("role");
    let role_arn = role.role().map(|r| r.arn().to_string()).expect("arn");

    // A service with two revisions, to roll back on the strength of the grant.
    let common::TwoRevisions {
        cluster,
        service,
        family,
        arns,
    } = common::ecs_service_on_revision_2(&ecs, "ga").await;

    let app = spawn_app_with(&format!(
        r#"demo = false
[[environments]]
name = "taskflow-production"
tier = "prod"
region = "us-east-1"
endpoint_url = "{url}"
operator_role_arn = "arn:aws:iam::123456789012:role/ops-console-operate"

[[environments.access_profiles]]
name = "prod-readonly"
role_arn = "{role_arn}"
max_minutes = 60
requester_groups = ["oncall"]
approver_groups = ["tech-leads"]
approvals = 1
require_mfa = true
ticket_pattern = "^(INC|CHG)-[0-9]+$"
"#
    ))
    .await;
    let alice = app.session_as("alice", "responder").await;
    let bob = app.session_as("bob", "approver").await;

    // Without a grant, alice's rollback (prod: during an open incident) waits for a second person.
    let (s, incident) = app
        .call_as(
            &alice,
            "incidents/declare",
            &[
                ("environment", "taskflow-production"),
                ("title", "bad deploy"),
                ("severity", "2"),
            ],
        )
        .await;
    assert_eq!(s, 200, "{incident}");
    let incident = incident.as_i64().expect("incident").to_string();
    let ask_rollback = [
        ("environment", "taskflow-production"),
        ("cluster", cluster.as_str()),
        ("service", service.as_str()),
        ("to", &format!("{family}:1")),
        ("reason", "bad deploy"),
        ("incident", incident.as_str()),
    ];
    let (s, first) = app.call_as(&alice, "rollbacks/request", &ask_rollback).await;
    assert_eq!(s, 200, "{first}");
    let (_, target) = app
        .call_as(
            &alice,
            "rollbacks/target",
            &[
                ("environment", "taskflow-production"),
                ("cluster", &cluster),
                ("service", &service),
            ],
        )
        .await;
    assert_eq!(target["rollbacks"][0]["status"], "pending", "{target}");

    let (s, id) = app
        .call_as(
            &alice,
            "access/request",
            &[
                ("environment", "taskflow-production"),
                ("profile", "prod-readonly"),
                ("reason", "inspect the service"),
                ("minutes", "30"),
                ("ticket", "INC-77"),
            ],
        )
        .await;
    assert_eq!(s, 200, "{id}");
    let id = id.as_i64().expect("id").to_string();
    let (s, _) = app
        .call_as(&bob, "access/decide", &[("id", id.as_str()), ("decision", "approve")])
        .await;
    assert_eq!(s, 200);
    let (s, creds) = app.call_as(&alice, "access/activate", &[("id", id.as_str())]).await;
    assert_eq!(s, 200, "{creds}");
    assert_eq!(creds["demo"], false);
    let left = creds["expires_ms"].as_i64().expect("exp") - creds["issued_now_ms"].as_i64().expect("now");
    assert!(left <= 30 * 60_000 + 5_000, "expiry within the window: {left}");

    // The credentials are the role's, as session req-N-alice.
    let issued = aws_sdk_sts::config::Credentials::new(
        creds["access_key_id"].as_str().expect("key"),
        creds["secret_access_key"].as_str().expect("secret"),
        creds["session_token"].as_str().map(str::to_string),
        None,
        "grant",
    );
    let as_grant = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(&url)
        .credentials_provider(issued)
        .load()
        .await;
    let me = aws_sdk_sts::Client::new(&as_grant)
        .get_caller_identity()
        .send()
        .await
        .expect("identity");
    let arn = me.arn().unwrap_or_default();
    assert!(
        arn.contains(&format!("assumed-role/prod-readonly-{tag}/req-{id}-alice")),
        "{arn}"
    );

    // A read-only grant does not confirm alice's pending rollback, nor a second one.
    let (s, _) = app.call_as(&alice, "rollbacks/request", &ask_rollback).await;
    assert_eq!(s, 409, "the first is still pending");
    let first = first.as_i64().expect("rollback id").to_string();
    let (s, _) = app.call_as(&bob, "rollbacks/confirm", &[("id", first.as_str())]).await;
    assert_eq!(s, 200, "bob confirms the first");
    let now = ecs
        .describe_services()
        .cluster(&cluster)
        .services(&service)
        .send()
        .await
        .expect("describe");
    assert_eq!(now.services()[0].task_definition(), Some(arns[0].as_str()));

    // Revocation writes a deny for this session only, issued before now.
    let (s, body) = app
        .call_as(
            &bob,
            "access/revoke",
            &[("id", id.as_str()), ("reason", "incident over")],
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let policy = iam
        .get_role_policy()
        .role_name(format!("prod-readonly-{tag}"))
        .policy_name("ops-console-revocations")
        .send()
        .await
        .expect("the deny policy exists");
    let doc = app::ssr::cloud::aws::grants::decode_policy(policy.policy_document());
    let doc: serde_json::Value = serde_json::from_str(&doc).expect("policy json");
    let st = &doc["Statement"][0];
    assert_eq!(st["Effect"], "Deny");
    assert_eq!(st["Condition"]["StringLike"]["aws:userid"], format!("*:req-{id}-alice"));
    assert!(st["Condition"]["DateLessThan"]["aws:TokenIssueTime"].is_string());
    let (_, page) = app.call_as(&alice, "access/get", &[("id", id.as_str())]).await;
    assert_eq!(page["request"]["status"], "revoked");
}
