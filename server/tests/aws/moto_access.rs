//! Grants against moto's STS and IAM: the credentials are real temporary credentials of the
//! profile's role with a session named after the request and the person, and revocation writes
//! the session-scoped deny policy. (Grants as a rollback's second key: moto_rollbacks.)

use crate::common::{self, Hold, Rule, proxied_moto, spawn_app_with};

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

// ---- Revocation that holds (issue 12, items 4-6) ----

/// A role of its own in moto that anyone may assume: (name, ARN).
async fn fresh_role(iam: &aws_sdk_iam::Client, prefix: &str) -> (String, String) {
    let name = format!("{prefix}-{:08x}", rand::random::<u32>());
    let role = iam
        .create_role()
        .role_name(&name)
        .assume_role_policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":["sts:AssumeRole","sts:TagSession","sts:SetSourceIdentity"]}]}"#,
        )
        .send()
        .await
        .expect("role");
    let arn = role.role().map(|r| r.arn().to_string()).expect("arn");
    (name, arn)
}

/// One environment reached through `endpoint` with one profile on `role_arn` (no MFA, one approval).
fn one_profile(endpoint: &str, role_arn: &str) -> String {
    format!(
        r#"demo = false
[[environments]]
name = "taskflow-production"
tier = "prod"
region = "us-east-1"
endpoint_url = "{endpoint}"

[[environments.access_profiles]]
name = "prod-readonly"
role_arn = "{role_arn}"
max_minutes = 60
approver_groups = ["tech-leads"]
approvals = 1
require_mfa = false
"#
    )
}

/// alice asks, bob approves: the id of an approved request.
async fn approved(app: &common::TestApp, alice: &reqwest::Client, bob: &reqwest::Client) -> String {
    let (s, id) = app
        .call_as(
            alice,
            "access/request",
            &[
                ("environment", "taskflow-production"),
                ("profile", "prod-readonly"),
                ("reason", "look at the service"),
                ("minutes", "30"),
            ],
        )
        .await;
    assert_eq!(s, 200, "{id}");
    let id = id.as_i64().expect("id").to_string();
    let (s, body) = app
        .call_as(bob, "access/decide", &[("id", id.as_str()), ("decision", "approve")])
        .await;
    assert_eq!(s, 200, "{body}");
    id
}

/// An approved and activated grant: (id, session name, when its credentials were handed out).
async fn active(app: &common::TestApp, alice: &reqwest::Client, bob: &reqwest::Client) -> (String, String, i64) {
    let id = approved(app, alice, bob).await;
    let (s, creds) = app.call_as(alice, "access/activate", &[("id", id.as_str())]).await;
    assert_eq!(s, 200, "{creds}");
    let session = creds["session_name"].as_str().expect("session").to_string();
    (id, session, creds["issued_now_ms"].as_i64().expect("issued"))
}

/// The role's deny policy as IAM holds it (an empty one when there is none yet).
async fn deny_policy(iam: &aws_sdk_iam::Client, role: &str) -> serde_json::Value {
    match iam
        .get_role_policy()
        .role_name(role)
        .policy_name("ops-console-revocations")
        .send()
        .await
    {
        Ok(p) => serde_json::from_str(&app::ssr::cloud::aws::grants::decode_policy(p.policy_document()))
            .expect("policy json"),
        Err(_) => serde_json::json!({"Statement": []}),
    }
}

/// The characters of all the role's inline policies together, as IAM counts them (no whitespace).
async fn inline_chars(iam: &aws_sdk_iam::Client, role: &str) -> usize {
    let names = iam.list_role_policies().role_name(role).send().await.expect("list");
    let mut total = 0;
    for n in names.policy_names() {
        let p = iam
            .get_role_policy()
            .role_name(role)
            .policy_name(n)
            .send()
            .await
            .expect("get");
        total += app::ssr::cloud::aws::grants::decode_policy(p.policy_document())
            .chars()
            .filter(|c| !c.is_whitespace())
            .count();
    }
    total
}

/// Whether `doc` stops a token of `session` issued at `issued_ms`: a deny of everything for that
/// session (or for the whole role) on tokens issued before a time later than `issued_ms`.
/// Written from IAM's rules, independently of the console's code.
fn denies(doc: &serde_json::Value, session: &str, issued_ms: i64) -> bool {
    let statements = doc["Statement"].as_array().cloned().unwrap_or_default();
    statements.iter().any(|s| {
        let conditions = s["Condition"].as_object().cloned().unwrap_or_default();
        let only_known = conditions.keys().all(|k| k == "StringLike" || k == "DateLessThan");
        let who = match s["Condition"]["StringLike"].as_object() {
            None => true,
            Some(like) => {
                like.len() == 1 && like.get("aws:userid").and_then(|v| v.as_str()) == Some(&format!("*:{session}"))
            }
        };
        let before = s["Condition"]["DateLessThan"]["aws:TokenIssueTime"]
            .as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .is_some_and(|t| t.timestamp_millis() > issued_ms);
        s["Effect"] == "Deny" && s["Action"] == "*" && s["Resource"] == "*" && only_known && who && before
    })
}

/// Item 4: two revocations on one role at once, both reading the deny policy before either
/// writes (every GetRolePolicy is held 400 ms), must not overwrite each other.
#[tokio::test]
async fn two_concurrent_revocations_on_one_role_both_leave_their_deny() {
    let moto = common::moto_url();
    let iam = aws_sdk_iam::Client::new(&common::moto_sdk(&moto).await);
    let (role, role_arn) = fresh_role(&iam, "rv-two").await;
    let slow: Rule = std::sync::Arc::new(|body: &str| {
        if body.contains("Action=GetRolePolicy") {
            Hold::For(std::time::Duration::from_millis(400))
        } else {
            Hold::Pass
        }
    });
    let endpoint = proxied_moto(moto.clone(), slow).await;
    let app = spawn_app_with(&one_profile(&endpoint, &role_arn)).await;
    let alice = app.session_as("alice", "responder").await;
    let bob = app.session_as("bob", "approver").await;
    let (a, a_session, a_issued) = active(&app, &alice, &bob).await;
    let (b, b_session, b_issued) = active(&app, &alice, &bob).await;

    let (form_a, form_b) = (
        [("id", a.as_str()), ("reason", "done")],
        [("id", b.as_str()), ("reason", "done")],
    );
    let (ra, rb) = futures::join!(
        app.call_as(&bob, "access/revoke", &form_a),
        app.call_as(&bob, "access/revoke", &form_b)
    );
    assert_eq!((ra.0, rb.0), (200, 200), "{ra:?} {rb:?}");
    let doc = deny_policy(&iam, &role).await;
    assert!(denies(&doc, &a_session, a_issued), "{a_session} is denied: {doc}");
    assert!(denies(&doc, &b_session, b_issued), "{b_session} is denied: {doc}");
    for id in [&a, &b] {
        let (_, page) = app.call_as(&alice, "access/get", &[("id", id.as_str())]).await;
        assert_eq!(page["request"]["status"], "revoked");
    }
}

/// Item 5: the role's other inline policies count against IAM's 10,240-character aggregate; when
/// the console's deny no longer fits, one role-wide `aws:TokenIssueTime` deny takes over (the
/// audit entry and the request page say so), and no revoked session is ever let go.
#[tokio::test]
async fn a_full_role_falls_back_to_one_role_wide_deny_and_keeps_every_revoked_session_denied() {
    let moto = common::moto_url();
    let iam = aws_sdk_iam::Client::new(&common::moto_sdk(&moto).await);
    let (role, role_arn) = fresh_role(&iam, "rv-full").await;
    // Someone else's inline policy on the role, about 9,300 characters.
    let resources: Vec<String> = (0..1000)
        .map(|i| format!("arn:aws:s3:::bucket-{i:03}/*"))
        .take_while({
            let mut size = 120;
            move |r: &String| {
                size += r.len() + 3;
                size < 9_300
            }
        })
        .collect();
    let other = serde_json::json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "ReadBuckets", "Effect": "Allow", "Action": "s3:GetObject", "Resource": resources}
    ]})
    .to_string();
    iam.put_role_policy()
        .role_name(&role)
        .policy_name("team-read")
        .policy_document(&other)
        .send()
        .await
        .expect("the other policy");
    let app = spawn_app_with(&one_profile(&moto, &role_arn)).await;
    let alice = app.session_as("alice", "responder").await;
    let bob = app.session_as("bob", "approver").await;

    let mut revoked: Vec<(String, String, i64)> = Vec::new();
    let mut role_wide_at = None;
    for n in 0..6 {
        let (id, session, issued) = active(&app, &alice, &bob).await;
        let (s, body) = app
            .call_as(&bob, "access/revoke", &[("id", id.as_str()), ("reason", "done")])
            .await;
        assert_eq!(s, 200, "revocation {n}: {body}");
        revoked.push((id.clone(), session, issued));
        let total = inline_chars(&iam, &role).await;
        assert!(
            total <= 10_240,
            "revocation {n}: all inline policies hold {total} characters"
        );
        let doc = deny_policy(&iam, &role).await;
        for (rid, session, issued) in &revoked {
            assert!(
                denies(&doc, session, *issued),
                "after revocation {n}, #{rid} ({session}) is still denied: {doc}"
            );
        }
        let (_, page) = app.call_as(&alice, "access/get", &[("id", id.as_str())]).await;
        let note = page["request"]["revocation"].as_str().unwrap_or_default().to_string();
        if note.contains("role-wide") {
            role_wide_at.get_or_insert((id.clone(), note));
        }
    }
    let (id, note) = role_wide_at.expect("the role filled up and a role-wide deny took over");
    assert!(note.contains(&role_arn), "{note}");
    let (status, html) = app.page(&format!("/access/requests/{id}")).await;
    assert_eq!(status, 200);
    assert!(html.contains("role-wide"), "the request page says so");
    let entries = app.state.store.audit_all(None).await.expect("audit");
    let entry = entries
        .iter()
        .map(|r| &r.entry)
        .find(|e| e.action == "access.revoke" && e.target == format!("access:{id}"))
        .expect("the revocation is audited");
    let detail: serde_json::Value = serde_json::from_str(&entry.detail).expect("detail");
    assert_eq!(detail["role_wide"], true, "{detail}");
}

/// Item 6 and the done-when line: 100 activations each racing a revocation of the same grant,
/// 20 pairs at a time
/// (STS answers held 0-1,200 ms at random, so the revocation lands before, during and after
/// the activation). Every revocation holds, and no credentials handed out are left without a deny.
#[tokio::test]
async fn a_hundred_revocations_racing_activations_leave_no_credentials_without_a_deny() {
    let moto = common::moto_url();
    let iam = aws_sdk_iam::Client::new(&common::moto_sdk(&moto).await);
    let (role, role_arn) = fresh_role(&iam, "rv-race").await;
    let slow: Rule = std::sync::Arc::new(|body: &str| {
        if body.contains("Action=AssumeRole") {
            Hold::For(std::time::Duration::from_millis(rand::random::<u64>() % 1200))
        } else {
            Hold::Pass
        }
    });
    let endpoint = proxied_moto(moto.clone(), slow).await;
    let app = spawn_app_with(&one_profile(&endpoint, &role_arn)).await;
    let alice = app.session_as("alice", "responder").await;
    let bob = app.session_as("bob", "approver").await;
    let mut ids = Vec::new();
    for _ in 0..100 {
        ids.push(approved(&app, &alice, &bob).await);
    }
    let pairs = ids.iter().map(|id| {
        let (app, alice, bob) = (&app, &alice, &bob);
        async move {
            let (activate, revoke) = ([("id", id.as_str())], [("id", id.as_str()), ("reason", "race")]);
            let (activated, revoked) = futures::join!(
                app.call_as(alice, "access/activate", &activate),
                app.call_as(bob, "access/revoke", &revoke)
            );
            (id.clone(), activated, revoked)
        }
    });
    let raced = std::time::Instant::now();
    // 20 pairs at a time: each pair races within itself, and the revocations queued on the
    // role's lock stay well inside the 30 s a revocation waits for it on a busy test machine.
    let results: Vec<_> =
        futures::StreamExt::collect(futures::StreamExt::buffer_unordered(futures::stream::iter(pairs), 20)).await;
    let raced = raced.elapsed();
    let doc = deny_policy(&iam, &role).await;
    let mut handed_out = 0;
    for (id, (a_status, creds), (r_status, body)) in &results {
        assert_eq!(*r_status, 200, "revoking #{id} holds: {body}");
        let (_, page) = app.call_as(&alice, "access/get", &[("id", id.as_str())]).await;
        assert_eq!(page["request"]["status"], "revoked", "#{id}");
        if *a_status == 200 {
            handed_out += 1;
            let session = creds["session_name"].as_str().expect("session");
            let issued = creds["issued_now_ms"].as_i64().expect("issued");
            assert!(
                denies(&doc, session, issued),
                "#{id}: credentials of {session} without a deny"
            );
        } else {
            assert!(*a_status == 409, "#{id}: activation answers {a_status}: {creds}");
        }
    }
    let entries = app.state.store.audit_all(None).await.expect("audit");
    let from = |state: &str| {
        entries
            .iter()
            .filter(|r| r.entry.action == "access.revoke" && r.entry.detail.contains(&format!("\"from\":\"{state}\"")))
            .count()
    };
    eprintln!(
        "{handed_out} of 100 activations handed out credentials in {raced:?}; revoked from approved {}, activating {}, active {}",
        from("approved"),
        from("activating"),
        from("active")
    );
}

/// Items 4 and 14: a revocation whose deny IAM acknowledged but does not hold (the write was
/// lost), or that IAM refuses (the role is gone), is a 503 on the record with outcome `failed`,
/// and the grant stays active: the console never claims a revocation that did not happen.
#[tokio::test]
async fn a_deny_that_does_not_hold_is_a_503_on_the_record_and_the_grant_stays_active() {
    let moto = common::moto_url();
    let iam = aws_sdk_iam::Client::new(&common::moto_sdk(&moto).await);
    let (role, role_arn) = fresh_role(&iam, "rv-lost").await;
    let lose_writes: Rule = std::sync::Arc::new(|body: &str| {
        if body.contains("Action=PutRolePolicy") {
            Hold::Lose
        } else {
            Hold::Pass
        }
    });
    let endpoint = proxied_moto(moto.clone(), lose_writes).await;
    let app = spawn_app_with(&one_profile(&endpoint, &role_arn)).await;
    let alice = app.session_as("alice", "responder").await;
    let bob = app.session_as("bob", "approver").await;
    let (id, session, _) = active(&app, &alice, &bob).await;
    let (s, body) = app
        .call_as(&bob, "access/revoke", &[("id", id.as_str()), ("reason", "done")])
        .await;
    assert_eq!(s, 503, "{body}");
    assert!(
        body["message"].as_str().unwrap_or_default().contains("read back"),
        "{body}"
    );
    let doc = deny_policy(&iam, &role).await;
    assert!(!doc.to_string().contains(&session), "nothing landed: {doc}");
    let (_, page) = app.call_as(&alice, "access/get", &[("id", id.as_str())]).await;
    assert_eq!(page["request"]["status"], "active", "not claimed revoked");

    // The role deleted under the console: IAM refuses, the same way.
    let gone = spawn_app_with(&one_profile(
        &moto,
        &format!(
            "arn:aws:iam::123456789012:role/no-such-role-{:08x}",
            rand::random::<u32>()
        ),
    ))
    .await;
    let alice2 = gone.session_as("alice", "responder").await;
    let bob2 = gone.session_as("bob", "approver").await;
    let (id2, _, _) = active(&gone, &alice2, &bob2).await;
    let (s, body) = gone.call_as(&bob2, "access/revoke", &[("id", id2.as_str())]).await;
    assert_eq!(s, 503, "{body}");

    for (app, id) in [(&app, &id), (&gone, &id2)] {
        let entries = app.state.store.audit_all(None).await.expect("audit");
        let failed = entries
            .iter()
            .map(|r| &r.entry)
            .find(|e| e.action == "access.revoke" && e.target == format!("access:{id}"))
            .expect("the failed revocation is audited");
        assert_eq!(failed.outcome, "failed");
        assert_eq!(failed.actor, "bob");
        assert!(failed.detail.contains("error"), "{}", failed.detail);
    }
}

/// Item 6: a revocation while STS is still answering the activation (its answer held until the
/// revocation is done) ends the request at once, writes the deny for the session being issued,
/// and the activation then withholds the credentials (409) instead of showing working ones.
#[tokio::test]
async fn a_revocation_during_activation_holds_and_the_credentials_are_withheld() {
    let moto = common::moto_url();
    let iam = aws_sdk_iam::Client::new(&common::moto_sdk(&moto).await);
    let (role, role_arn) = fresh_role(&iam, "rv-during").await;
    let go = std::sync::Arc::new(tokio::sync::Notify::new());
    let sts_waits: Rule = {
        let go = go.clone();
        std::sync::Arc::new(move |body: &str| {
            if body.contains("Action=AssumeRole") {
                // Past the SDK's 1.5 s attempt timeout the attempt is dropped and retried
                // (held again), so the activation waits up to its 3.5 s operation timeout.
                Hold::Until(go.clone(), std::time::Duration::from_secs(3))
            } else {
                Hold::Pass
            }
        })
    };
    let endpoint = proxied_moto(moto.clone(), sts_waits).await;
    let app = spawn_app_with(&one_profile(&endpoint, &role_arn)).await;
    let alice = app.session_as("alice", "responder").await;
    let bob = app.session_as("bob", "approver").await;
    let id = approved(&app, &alice, &bob).await;
    let started = chrono::Utc::now().timestamp_millis();
    let activate = [("id", id.as_str())];
    let activation = app.call_as(&alice, "access/activate", &activate);
    let revocation = async {
        let seen = common::eventually(std::time::Duration::from_secs(1), || async {
            let (_, page) = app.call_as(&bob, "access/get", &[("id", id.as_str())]).await;
            (page["request"]["status"] == "activating").then_some(page)
        })
        .await;
        let page = seen.expect("the activation claimed the request");
        assert_eq!(
            page["can_revoke"], true,
            "the page offers revoking an activation under way"
        );
        let done = app
            .call_as(&bob, "access/revoke", &[("id", id.as_str()), ("reason", "stop")])
            .await;
        go.notify_one();
        done
    };
    let ((a_status, a_body), (r_status, r_body)) = futures::join!(activation, revocation);
    assert_eq!(r_status, 200, "{r_body}");
    assert_eq!(a_status, 409, "{a_body}");
    assert!(
        a_body["message"].as_str().unwrap_or_default().contains("revoked"),
        "{a_body}"
    );
    let (_, page) = app.call_as(&alice, "access/get", &[("id", id.as_str())]).await;
    assert_eq!(page["request"]["status"], "revoked");
    let session = format!("req-{id}-alice");
    let doc = deny_policy(&iam, &role).await;
    assert!(
        denies(&doc, &session, chrono::Utc::now().timestamp_millis()),
        "the issued session is denied: {doc}"
    );
    assert!(denies(&doc, &session, started), "{doc}");
}

/// Item 4, across replicas: while another replica holds the role's lock (its lease row in the
/// shared database), a revocation here does not touch the role's policy; once the lock is given
/// back it goes ahead. (The lock is released after 500 ms, a window in which a revocation that
/// ignored it would long have written.)
#[tokio::test]
async fn a_revocation_waits_while_another_replica_holds_the_roles_lock() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let moto = common::moto_url();
    let iam = aws_sdk_iam::Client::new(&common::moto_sdk(&moto).await);
    let (role, role_arn) = fresh_role(&iam, "rv-lease").await;
    let released = std::sync::Arc::new(AtomicBool::new(false));
    let early = std::sync::Arc::new(AtomicUsize::new(0));
    let watch: Rule = {
        let (released, early) = (released.clone(), early.clone());
        std::sync::Arc::new(move |body: &str| {
            let policy_call = ["ListRolePolicies", "GetRolePolicy", "PutRolePolicy"]
                .iter()
                .any(|a| body.contains(&format!("Action={a}")));
            if policy_call && !released.load(Ordering::SeqCst) {
                early.fetch_add(1, Ordering::SeqCst);
            }
            Hold::Pass
        })
    };
    let endpoint = proxied_moto(moto.clone(), watch).await;
    let app = spawn_app_with(&one_profile(&endpoint, &role_arn)).await;
    let alice = app.session_as("alice", "responder").await;
    let bob = app.session_as("bob", "approver").await;
    let (id, session, issued) = active(&app, &alice, &bob).await;

    let lease = format!("revoke:{role_arn}");
    let now = chrono::Utc::now().timestamp_millis();
    assert!(
        app.state
            .store
            .lease_acquire(&lease, "other-replica", now, 60_000)
            .await
            .expect("lease")
    );
    let form = [("id", id.as_str()), ("reason", "done")];
    let revocation = app.call_as(&bob, "access/revoke", &form);
    let other_replica = async {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        released.store(true, Ordering::SeqCst);
        app.state
            .store
            .lease_release(&lease, "other-replica")
            .await
            .expect("release");
    };
    let ((s, body), ()) = futures::join!(revocation, other_replica);
    assert_eq!(s, 200, "{body}");
    assert_eq!(
        early.load(Ordering::SeqCst),
        0,
        "no policy call while the other replica held the lock"
    );
    assert!(denies(&deny_policy(&iam, &role).await, &session, issued));
}
