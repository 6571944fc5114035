//! A delaying proxy in front of moto for the slow-AWS load benchmark (not a test; run by
//! scripts/load.sh): every call waits `--delay-ms` (500) before it is passed to `--upstream`, and
//! is counted by AWS service. `GET /__slow_aws/calls` answers the counts as JSON. The proxy is the
//! one the moto tests use (`server/tests/common/aws_proxy.rs`).
//!
//! `cargo run -p server --example slow_aws -- --upstream http://127.0.0.1:5000 --delay-ms 500`
//! prints `http://127.0.0.1:PORT` on its first line once it listens.

// The bench uses the delay only; holding is for the tests.
#[allow(dead_code)]
#[path = "../tests/common/aws_proxy.rs"]
mod aws_proxy;

use std::io::Write;
use std::time::Duration;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let upstream = arg("--upstream").ok_or("--upstream URL")?;
    let delay = Duration::from_millis(arg("--delay-ms").unwrap_or_else(|| "500".into()).parse()?);
    let (url, _proxy) = aws_proxy::start(&upstream, delay).await?;
    let mut out = std::io::stdout();
    writeln!(out, "{url}")?;
    out.flush()?;
    std::future::pending::<()>().await;
    Ok(())
}
