//! A slow AWS endpoint (issue 14, item 4): a proxy in front of moto that holds every call while it
//! is told to. Once an environment has been read, its page is answered from the last inventory
//! while a refresh waits on AWS, and the viewers who arrive meanwhile start no call of their own.

use crate::common::{self, eventually, spawn_app_with};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

struct Proxy {
    upstream: String,
    client: reqwest::Client,
    /// While true, calls wait here (counted by service) until it turns false.
    hold: tokio::sync::watch::Sender<bool>,
    held: Mutex<HashMap<String, usize>>,
}

async fn forward(State(p): State<Arc<Proxy>>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let mut hold = p.hold.subscribe();
    if *hold.borrow_and_update() {
        let service = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|a| a.split("Credential=").nth(1))
            .and_then(|c| c.split('/').nth(3))
            .unwrap_or("unsigned")
            .to_string();
        *p.held.lock().unwrap().entry(service).or_default() += 1;
        let _ = hold.wait_for(|h| !*h).await;
    }
    let url = format!(
        "{}{}",
        p.upstream,
        uri.path_and_query().map(|q| q.as_str()).unwrap_or("/")
    );
    let mut req = p.client.request(method, url).body(body);
    for (k, v) in headers.iter() {
        if k != "host" && k != "content-length" {
            req = req.header(k, v);
        }
    }
    let answer = req.send().await.expect("moto");
    let status = answer.status();
    let mut out = HeaderMap::new();
    for (k, v) in answer.headers() {
        if k != "transfer-encoding" && k != "content-length" && k != "connection" {
            out.append(k, v.clone());
        }
    }
    let bytes = answer.bytes().await.expect("moto body");
    (status, out, Body::from(bytes)).into_response()
}

async fn start_proxy(upstream: &str) -> (String, Arc<Proxy>) {
    let (hold, _) = tokio::sync::watch::channel(false);
    let proxy = Arc::new(Proxy {
        upstream: upstream.trim_end_matches('/').to_string(),
        client: reqwest::Client::new(),
        hold,
        held: Mutex::new(HashMap::new()),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let app = axum::Router::new().fallback(forward).with_state(proxy.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, proxy)
}

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
    let (url, proxy) = start_proxy(&moto).await;
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
