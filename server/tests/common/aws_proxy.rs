//! A proxy in front of moto, for a slow or silent AWS: every call waits `delay` before it is passed
//! on, and while `hold` is true it waits until `hold` turns false (only the calls of the action
//! named in `hold_only`, e.g. `UpdateService`, when it is set). Calls are counted by AWS service
//! (the SigV4 credential scope), all of them and those held; held calls also by action. `GET /__slow_aws/calls` answers the
//! counts as JSON (`{"total":N,"by_service":{"ecs":N,…}}`), uncounted and undelayed.
//! Used by the moto tests (`aws::moto_slow`) and by `make bench` (`server/examples/slow_aws.rs`).

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub struct AwsProxy {
    upstream: String,
    delay: Duration,
    client: reqwest::Client,
    pub hold: tokio::sync::watch::Sender<bool>,
    pub hold_only: Mutex<Option<String>>,
    pub calls: Mutex<BTreeMap<String, u64>>,
    pub held: Mutex<BTreeMap<String, u64>>,
    pub held_actions: Mutex<BTreeMap<String, u64>>,
}

/// The service of a SigV4-signed call: `Credential=KEY/DATE/REGION/SERVICE/aws4_request`.
fn service_of(headers: &HeaderMap) -> String {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|a| a.split("Credential=").nth(1))
        .and_then(|c| c.split('/').nth(3))
        .unwrap_or("unsigned")
        .to_string()
}

fn count(map: &Mutex<BTreeMap<String, u64>>, service: &str) {
    *map.lock()
        .unwrap_or_else(|p| p.into_inner())
        .entry(service.to_string())
        .or_default() += 1;
}

async fn forward(
    State(p): State<Arc<AwsProxy>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if uri.path() == "/__slow_aws/calls" {
        let calls = p.calls.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let total: u64 = calls.values().sum();
        return axum::Json(serde_json::json!({ "total": total, "by_service": calls })).into_response();
    }
    let service = service_of(&headers);
    count(&p.calls, &service);
    let action = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.rsplit('.').next())
        .unwrap_or_default()
        .to_string();
    let only = p.hold_only.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let mut hold = p.hold.subscribe();
    if *hold.borrow_and_update() && only.is_none_or(|o| o == action) {
        count(&p.held_actions, &action);
        count(&p.held, &service);
        let _ = hold.wait_for(|h| !*h).await;
    }
    tokio::time::sleep(p.delay).await;
    let url = format!(
        "{}{}",
        p.upstream,
        uri.path_and_query().map(|q| q.as_str()).unwrap_or("/")
    );
    let mut request = p.client.request(method, url).body(body);
    for (name, value) in headers.iter() {
        if name != "host" && name != "content-length" {
            request = request.header(name, value);
        }
    }
    match request.send().await {
        Ok(answer) => {
            let status = answer.status();
            let mut out = HeaderMap::new();
            for (name, value) in answer.headers() {
                if name != "transfer-encoding" && name != "content-length" && name != "connection" {
                    out.append(name, value.clone());
                }
            }
            let bytes = answer.bytes().await.unwrap_or_default();
            (status, out, Body::from(bytes)).into_response()
        }
        Err(e) => (StatusCode::BAD_GATEWAY, format!("upstream: {e}")).into_response(),
    }
}

/// Starts the proxy on a free loopback port: its URL, and the proxy to hold calls or read counts.
pub async fn start(upstream: &str, delay: Duration) -> std::io::Result<(String, Arc<AwsProxy>)> {
    let (hold, _) = tokio::sync::watch::channel(false);
    let proxy = Arc::new(AwsProxy {
        upstream: upstream.trim_end_matches('/').to_string(),
        delay,
        client: reqwest::Client::new(),
        hold,
        hold_only: Mutex::new(None),
        calls: Mutex::new(BTreeMap::new()),
        held: Mutex::new(BTreeMap::new()),
        held_actions: Mutex::new(BTreeMap::new()),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let app = axum::Router::new().fallback(forward).with_state(proxy.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((url, proxy))
}
