//! A slow AWS endpoint (issue 14, item 4): a proxy in front of moto that holds every call while it
//! is told to. Once an environment has been read, its page is answered from the last inventory
//! while a refresh waits on AWS, and the viewers who arrive meanwhile start no call of their own.

use crate::common::{self, aws_proxy, eventually, spawn_app_with};
use std::time::Duration;

fn services(detail: &serde_json::Value) -> Vec<String> {
    let mut v: Vec<String> = detail["inventory"]["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["kind"] == "EcsService")
        .filter_map(|r| r["name"].as_str().map(String::from))
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_aws_holds_a_refresh_viewers_get_the_last_inventory_and_start_no_calls() {
    let moto = common::moto_url();
    let (url, proxy) = aws_proxy::start(&moto, Duration::ZERO).await.expect("proxy");
    let app = spawn_app_with(&format!(
        r#"demo = false
[[environments]]
name = "taskflow-production"
tier = "prod"
region = "us-east-1"
endpoint_url = "{url}"
selector = {{ tag_key = "Environment", tag_value = "production" }}
"#
    ))
    .await;
    let viewer = app.session_as("dave", "viewer").await;
    let name = [("name", "taskflow-production")];
    let (s, first) = app.call_as(&viewer, "environments/get", &name).await;
    assert_eq!(s, 200, "{first}");
    let listed = services(&first);
    assert!(!listed.is_empty(), "the first read lists the services: {first}");

    // AWS stops answering; once the ECS part has expired, ten viewers ask at once.
    proxy.hold.send_replace(true);
    tokio::time::sleep(app::ssr::cloud::aws::TTL_ECS + Duration::from_millis(500)).await;
    let asks = (0..10).map(|_| app.call_as(&viewer, "environments/get", &name));
    let answers = futures::future::join_all(asks).await;
    // Answered while the refresh is still held, with what was read before and no note: the one
    // viewer whose read refreshes gets the last inventory after 400 ms, the others the previous
    // ECS value (younger than twice its TTL) at once. (Queued behind the refresh, each would have
    // waited the part's 4 s and shown the services marked stale with "no answer within 4 s".)
    assert!(*proxy.hold.borrow(), "nothing was released");
    for (s, detail) in &answers {
        assert_eq!(*s, 200, "{detail}");
        assert_eq!(services(detail), listed, "{detail}");
        assert_eq!(detail["inventory"]["notes"], serde_json::json!([]), "{detail}");
    }
    let held = proxy.held.lock().unwrap().clone();
    // One read of ECS (its first call, and the SDK's retries of it at most), not one per viewer;
    // nothing else had expired.
    assert!(
        held.get("ecs").is_some_and(|n| *n <= 3) && held.len() == 1,
        "one refresh for ten viewers: {held:?}"
    );

    // AWS answers again: a later view shows a newer read.
    proxy.hold.send_replace(false);
    let newer = eventually(Duration::from_secs(20), || async {
        let (_, d) = app.call_as(&viewer, "environments/get", &name).await;
        (d["inventory"]["fetched_ms"] != first["inventory"]["fetched_ms"]).then_some(d)
    })
    .await
    .expect("a newer inventory once AWS answers");
    assert_eq!(services(&newer), listed);
}

/// The rollback job must not report the service as it was before the rollback as its progress:
/// while ECS has not answered the confirmer's UpdateService, a round of the job leaves the
/// rollback alone (issue 14's CI run saw "service on :2" as the first progress of a rollback to :1).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_update_service_is_in_flight_the_rollback_watch_reports_nothing() {
    let moto = common::moto_url();
    let ecs = aws_sdk_ecs::Client::new(&common::moto_sdk(&moto).await);
    let common::TwoRevisions {
        cluster,
        service,
        family,
        ..
    } = common::ecs_service_on_revision_2(&ecs, "inflight").await;
    let (url, proxy) = aws_proxy::start(&moto, Duration::ZERO).await.expect("proxy");
    let app = spawn_app_with(&format!(
        r#"demo = false
[[environments]]
name = "taskflow-production"
tier = "prod"
region = "us-east-1"
endpoint_url = "{url}"
operator_role_arn = "arn:aws:iam::123456789012:role/ops-console-operate"
"#
    ))
    .await;
    let app = std::sync::Arc::new(app);
    let alice = app.session_as("alice", "responder").await;
    let bob = app.session_as("bob", "approver").await;
    let svc = format!("{cluster}/{service}");
    let (_, id) = app
        .call_as(
            &alice,
            "incidents/declare",
            &[
                ("environment", "taskflow-production"),
                ("title", "bad deploy"),
                ("severity", "2"),
                ("services", &svc),
            ],
        )
        .await;
    let incident = id.as_i64().expect("incident id").to_string();
    let to = format!("{family}:1");
    let ask = [
        ("environment", "taskflow-production"),
        ("cluster", cluster.as_str()),
        ("service", service.as_str()),
        ("to", to.as_str()),
        ("reason", "5xx since 1.5.0"),
        ("incident", incident.as_str()),
    ];
    let (s, rid) = app.call_as(&alice, "rollbacks/request", &ask).await;
    assert_eq!(s, 200, "{rid}");
    let rid = rid.as_i64().expect("rollback id").to_string();

    // ECS holds the UpdateService only; bob's confirmation waits on it.
    *proxy.hold_only.lock().unwrap() = Some("UpdateService".into());
    proxy.hold.send_replace(true);
    let confirm = {
        let (app, bob, rid) = (app.clone(), bob.clone(), rid.clone());
        tokio::spawn(async move { app.call_as(&bob, "rollbacks/confirm", &[("id", &rid)]).await })
    };
    eventually(Duration::from_secs(10), || async {
        proxy
            .held_actions
            .lock()
            .unwrap()
            .contains_key("UpdateService")
            .then_some(())
    })
    .await
    .expect("the confirmation reaches UpdateService");
    let progress = || async {
        let (_, inc) = app.call_as(&alice, "incidents/get", &[("id", &incident)]).await;
        (
            inc["rollbacks"][0]["status"].as_str().unwrap_or_default().to_string(),
            inc["rollbacks"][0]["progress"].as_str().unwrap_or_default().to_string(),
        )
    };
    app::ssr::rollbacks::watch_all(&app.state).await;
    assert_eq!(
        progress().await,
        ("rolling".to_string(), "UpdateService being sent".to_string()),
        "a round of the job while UpdateService is in flight"
    );

    proxy.hold.send_replace(false);
    let (s, view) = confirm.await.expect("confirm task");
    assert_eq!(s, 200, "{view}");
    app::ssr::rollbacks::watch_all(&app.state).await;
    let (status, seen) = progress().await;
    assert_eq!(status, "rolling");
    assert!(seen.contains(&format!("service on {to}")), "{seen}");
}
