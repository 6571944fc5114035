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
