//! The `Host` check in front of every request: the console answers only to the names it is
//! reached at (`public_url`, `auth.redirect_url`, the listen address; on loopback also
//! `localhost`), so a DNS name pointed at the machine (DNS rebinding) does not reach it from a
//! browser page of another site. In dev mode a request that came through a proxy is refused too:
//! a dev login picks any role. The machine endpoints (`/healthz`, `/readyz`, `/metrics`) are
//! exempt, since probes and scrapers address the pod by IP.

use app::ssr::config::{AuthMode, Config};
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// The host names (and ports) this console answers to.
#[derive(Debug, Clone, Default)]
pub struct AllowedHosts {
    /// Nothing names the console (listen on 0.0.0.0 without `public_url`): no check possible.
    any: bool,
    /// Host and port from a URL (`public_url`, `auth.redirect_url`), with the scheme's default port.
    exact: Vec<(String, u16, u16)>,
    /// A host name on any port (the listen address, `localhost` when it is loopback).
    any_port: Vec<String>,
    dev: bool,
    /// Where to send someone who used another name.
    base_url: String,
}

impl AllowedHosts {
    pub fn new(config: &Config, listen: SocketAddr) -> AllowedHosts {
        let mut a = AllowedHosts {
            dev: config.auth.mode == AuthMode::Dev,
            base_url: config.base_url(),
            ..AllowedHosts::default()
        };
        for u in [config.public_url.as_deref(), config.auth.redirect_url.as_deref()]
            .into_iter()
            .flatten()
        {
            if let Ok(url) = url::Url::parse(u)
                && let (Some(host), Some(port), Some(default)) = (
                    url.host_str(),
                    url.port_or_known_default(),
                    url::Url::parse(&format!("{}://x", url.scheme()))
                        .ok()
                        .and_then(|d| d.port_or_known_default()),
                )
            {
                a.exact.push((host.to_ascii_lowercase(), port, default));
            }
        }
        match listen.ip() {
            ip if ip.is_unspecified() => a.any = a.exact.is_empty(),
            ip => {
                a.any_port.push(match ip {
                    IpAddr::V4(v4) => v4.to_string(),
                    IpAddr::V6(v6) => format!("[{v6}]"),
                });
                if ip.is_loopback() {
                    a.any_port.push("localhost".into());
                }
            }
        }
        a
    }

    /// Whether a `Host` header value (`name`, `name:port`, `[v6]:port`) is one of ours.
    pub fn allows(&self, host: &str) -> bool {
        if self.any {
            return true;
        }
        let host = host.trim();
        let (name, port) = match host.rfind(':') {
            Some(i) if !host[i..].contains(']') => (&host[..i], host[i + 1..].parse::<u16>().ok().map(Some)),
            _ => (host, Some(None)),
        };
        let Some(port) = port else {
            return false; // a port that is not a number
        };
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        self.any_port.contains(&name)
            || self
                .exact
                .iter()
                .any(|(h, p, default)| *h == name && port.unwrap_or(*default) == *p)
    }
}

/// Proxy headers: a dev-mode request that carries one did not come straight from this machine.
const PROXY_HEADERS: [&str; 4] = ["forwarded", "x-forwarded-for", "x-forwarded-host", "x-real-ip"];

/// The layer: 400 without a host, 421 for a name that is not the console's (or, in dev mode, a
/// request through a proxy), with a message that says where the console is.
pub async fn check(State(allowed): State<Arc<AllowedHosts>>, req: Request, next: Next) -> Response {
    if matches!(req.uri().path(), "/healthz" | "/readyz" | "/metrics") {
        return next.run(req).await;
    }
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| req.uri().authority().map(|a| a.as_str().to_string()));
    let Some(host) = host else {
        return (StatusCode::BAD_REQUEST, "this request names no host (Host header)\n").into_response();
    };
    if !allowed.allows(&host) {
        tracing::warn!(host, "request for another host name refused");
        return (
            StatusCode::MISDIRECTED_REQUEST,
            format!(
                "this console does not answer to the host name \"{}\": open it at {}\n",
                host.chars().filter(|c| !c.is_control()).take(200).collect::<String>(),
                allowed.base_url
            ),
        )
            .into_response();
    }
    if allowed.dev && PROXY_HEADERS.iter().any(|h| req.headers().contains_key(*h)) {
        return (
            StatusCode::MISDIRECTED_REQUEST,
            "dev mode answers only requests made directly on this machine, not through a proxy: \
             configure [auth] mode = \"oidc\" to serve others\n",
        )
            .into_response();
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(toml: &str, listen: &str) -> AllowedHosts {
        let c = Config::from_toml_with_overrides(toml, "t", &[]).expect("config");
        AllowedHosts::new(&c, listen.parse().expect("addr"))
    }

    #[test]
    fn only_the_consoles_own_names_pass() {
        let dev = hosts("", "127.0.0.1:3000");
        for ok in [
            "127.0.0.1:3000",
            "127.0.0.1:41234",
            "localhost:3000",
            "LOCALHOST",
            "127.0.0.1",
        ] {
            assert!(dev.allows(ok), "{ok}");
        }
        for bad in [
            "evil.example:3000",
            "rebind.attacker.test",
            "127.0.0.1:x",
            "",
            "127.0.0.2:3000",
        ] {
            assert!(!dev.allows(bad), "{bad}");
        }
        let oidc = "public_url = \"https://ops.example.com\"\n[auth]\nmode = \"oidc\"\nissuer_url = \"https://idp\"\nclient_id = \"c\"\n";
        let prod = hosts(oidc, "0.0.0.0:8080");
        for ok in ["ops.example.com", "ops.example.com:443", "OPS.example.com."] {
            assert!(prod.allows(ok), "{ok}");
        }
        for bad in ["ops.example.com:80", "10.0.0.5:8080", "evil.example"] {
            assert!(!prod.allows(bad), "{bad}");
        }
        let v6 = hosts("listen = \"[::1]:3000\"", "[::1]:3000");
        assert!(v6.allows("[::1]:3000") && v6.allows("localhost:3000"));
        assert!(!v6.allows("[::2]:3000"));
        let open = hosts(
            "[auth]\nmode = \"oidc\"\nissuer_url = \"https://idp\"\nclient_id = \"c\"\n",
            "0.0.0.0:8080",
        );
        assert!(open.allows("anything"), "nothing names the console: no check");
    }
}
