//! A delaying proxy in front of moto for the slow-AWS load benchmark (not a test; run by
//! scripts/load.sh): every call waits `--delay-ms` (500) before it is passed to `--upstream`, and
//! is counted by AWS service (the SigV4 credential scope). `GET /__slow_aws/calls` answers the
//! counts as JSON (`{"total":N,"by_service":{"ecs":N,…}}`) without a delay and without counting.
//!
//! `cargo run -p server --example slow_aws -- --upstream http://127.0.0.1:5000 --delay-ms 500`
//! prints `http://127.0.0.1:PORT` on its first line once it listens.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

struct Proxy {
    upstream: String,
    delay: Duration,
    client: reqwest::Client,
    calls: Mutex<BTreeMap<String, u64>>,
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

async fn forward(
    State(proxy): State<Arc<Proxy>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if uri.path() == "/__slow_aws/calls" {
        let calls = proxy.calls.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let total: u64 = calls.values().sum();
        return axum::Json(serde_json::json!({ "total": total, "by_service": calls })).into_response();
    }
    *proxy
        .calls
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .entry(service_of(&headers))
        .or_default() += 1;
    tokio::time::sleep(proxy.delay).await;
    let url = format!(
        "{}{}",
        proxy.upstream,
        uri.path_and_query().map(|p| p.as_str()).unwrap_or("/")
    );
    let mut request = proxy.client.request(method, url).body(body);
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

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let upstream = arg("--upstream").ok_or("--upstream URL")?;
    let delay = Duration::from_millis(arg("--delay-ms").unwrap_or_else(|| "500".into()).parse()?);
    let proxy = Arc::new(Proxy {
        upstream: upstream.trim_end_matches('/').to_string(),
        delay,
        client: reqwest::Client::builder().build()?,
        calls: Mutex::new(BTreeMap::new()),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let mut out = std::io::stdout();
    writeln!(out, "http://{}", listener.local_addr()?)?;
    out.flush()?;
    let app = axum::Router::new().fallback(forward).with_state(proxy);
    axum::serve(listener, app).await?;
    Ok(())
}
