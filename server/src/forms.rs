//! Plain HTML form posts (a browser without the app's script): server_fn answers a form that
//! accepts `text/html` with `302 Found` to the page it came from (the error, if any, in
//! `?__path=…&__err=…`), or to what it created (`api::go_to`). This layer makes that the
//! `303 See Other` a POST should get, so the browser GETs the page, and keeps the `Location` on
//! this console: the Referer's own origin is cut to its path, anything else becomes `/`.

use crate::ServerState;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

/// `Location` as a path of this console: an absolute URL of `own` origin becomes its path and
/// query; a local path stays; anything else (another site, a malformed value) is `/`.
pub fn local_location(location: &str, own: Option<&str>) -> String {
    // server_fn leaves a bare `?` where it stripped an earlier `__err`.
    let location = location.strip_suffix('?').unwrap_or(location);
    if crate::http::local_path(location) {
        return location.to_string();
    }
    match (url::Url::parse(location), own) {
        (Ok(u), Some(own)) if u.origin().ascii_serialization().eq_ignore_ascii_case(own) => {
            let mut path = u.path().to_string();
            if let Some(q) = u.query() {
                path.push('?');
                path.push_str(q);
            }
            if crate::http::local_path(&path) {
                path
            } else {
                "/".to_string()
            }
        }
        _ => "/".to_string(),
    }
}

/// A browser's form post: a POST of an urlencoded form that accepts HTML, not by an API token
/// alone (the rule of the CSRF layer: a bearer token without cookies is a script).
pub fn plain_form_post(headers: &axum::http::HeaderMap) -> bool {
    let has = |name: header::HeaderName, part: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().contains(part))
    };
    let script = has(header::AUTHORIZATION, "bearer ") && !headers.contains_key(header::COOKIE);
    has(header::ACCEPT, "text/html") && has(header::CONTENT_TYPE, "application/x-www-form-urlencoded") && !script
}

/// Makes a browser's form post answer 303 (see the module notes). Every other POST to a server
/// function that says it accepts HTML is told to expect JSON instead, so that server_fn,
/// leptos_axum and `api::plain_form_post` all agree it is not a form post: it keeps its status,
/// its JSON, and any secret it asked for.
pub async fn see_other(State(s): State<ServerState>, mut req: Request, next: Next) -> Response {
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    if !plain_form_post(req.headers()) {
        let api = req.uri().path().starts_with("/api/");
        let html = req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().contains("text/html"));
        if api && html {
            req.headers_mut()
                .insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        }
        return next.run(req).await;
    }
    let own = crate::http::own_origin(&s, req.headers());
    // Only server_fn's answers: other routes (sign-out to the identity provider) redirect as
    // they mean to.
    let api = req.uri().path().starts_with("/api/");
    let mut res = next.run(req).await;
    if api && res.status() == StatusCode::FOUND {
        let to = res
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(|l| local_location(l, own.as_deref()))
            .unwrap_or_else(|| "/".to_string());
        *res.status_mut() = StatusCode::SEE_OTHER;
        if let Ok(v) = HeaderValue::from_str(&to) {
            res.headers_mut().insert(header::LOCATION, v);
        }
    }
    res
}

#[cfg(test)]
mod tests {
    use super::local_location;

    #[test]
    fn a_location_stays_on_this_console() {
        let own = Some("http://127.0.0.1:3000");
        assert_eq!(local_location("/incidents/4", own), "/incidents/4");
        assert_eq!(
            local_location("http://127.0.0.1:3000/incidents/4?", own),
            "/incidents/4"
        );
        assert_eq!(
            local_location("http://127.0.0.1:3000/incidents/4?__path=x&__err=y", own),
            "/incidents/4?__path=x&__err=y"
        );
        assert_eq!(local_location("https://evil.example/incidents/4", own), "/");
        assert_eq!(local_location("//evil.example/x", own), "/");
        assert_eq!(local_location("http://127.0.0.1:3000/x", None), "/");
        assert_eq!(local_location("not a url", own), "/");
    }
}
