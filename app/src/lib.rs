//! ops-console: components, pages and server functions; the domain code behind the `ssr` feature.
#![recursion_limit = "256"]

pub mod api;
pub mod components;
pub mod error;
pub mod islands;
pub mod model;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod ssr;

use components::layout::Layout;
use leptos::prelude::*;
use leptos_meta::{MetaTags, Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{SsrMode, path};

/// The HTML document around the app (server side). In SSR it also sets the page's
/// Content-Security-Policy with a fresh nonce for the hydration script.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        leptos::nonce::provide_nonce();
        if let (Some(nonce), Some(opts)) = (
            leptos::nonce::use_nonce(),
            use_context::<leptos_axum::ResponseOptions>(),
        ) && let Ok(v) = axum::http::HeaderValue::from_str(&page_csp(&nonce))
        {
            opts.insert_header(axum::http::header::CONTENT_SECURITY_POLICY, v);
        }
    }
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" type="image/svg+xml" href="/favicon.svg"/>
                <AutoReload options=options.clone()/>
                // In the shell, not in App: the name is the build's content hash, known to the
                // server only (the client never renders the head).
                <link rel="stylesheet" id="leptos" href=format!("/{}/{}.css", options.site_pkg_dir, options.output_name)/>
                // Islands: only the few interactive parts (`islands`) are hydrated; the rest
                // of the page is server HTML and its view code is not in the wasm.
                <HydrationScripts options islands=true/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The CSP of HTML pages: scripts only from this origin or with this response's nonce, wasm
/// allowed to compile, no framing.
#[cfg(feature = "ssr")]
pub fn page_csp(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title text="ops-console"/>
        <Router>
            <Layout>
                <ErrorBoundary fallback=|errors| {
                    view! {
                        <div class="error-box" role="alert">
                            <h2>"Something went wrong on this page"</h2>
                            <ul>
                                {move || {
                                    errors
                                        .get()
                                        .into_iter()
                                        .map(|(_, e)| view! { <li>{e.to_string()}</li> })
                                        .collect_view()
                                }}
                            </ul>
                        </div>
                    }
                }>
                    // Async: a page is sent once its data has resolved, so the status a refused
                    // read sets (403 for a signed-in person without a role) is always the page's,
                    // not only when the read happened to finish before the first chunk.
                    <Routes fallback=pages::not_found::NotFound>
                        <Route path=path!("") view=pages::overview::Overview ssr=SsrMode::Async/>
                        <Route path=path!("/env/:name") view=pages::environment::EnvironmentPage ssr=SsrMode::Async/>
                        <Route path=path!("/env/:name/services/:service") view=pages::service::ServicePage ssr=SsrMode::Async/>
                        <Route path=path!("/env/:name/metrics") view=pages::metrics::MetricsPage ssr=SsrMode::Async/>
                        <Route path=path!("/env/:name/backups") view=pages::backups::BackupsPage ssr=SsrMode::Async/>
                        <Route path=path!("/env/:name/deployments") view=pages::deployments::DeploymentsPage ssr=SsrMode::Async/>
                        <Route path=path!("/env/:name/logs") view=pages::logs::LogsPage ssr=SsrMode::Async/>
                        <Route path=path!("/env/:name/changes") view=pages::changes::ChangesPage ssr=SsrMode::Async/>
                        <Route path=path!("/incidents") view=pages::incidents::IncidentsPage ssr=SsrMode::Async/>
                        <Route path=path!("/incidents/:id") view=pages::incidents::IncidentPage ssr=SsrMode::Async/>
                        <Route path=path!("/access") view=pages::access::AccessPage ssr=SsrMode::Async/>
                        <Route path=path!("/access/requests/:id") view=pages::access::AccessRequestPage ssr=SsrMode::Async/>
                        <Route path=path!("/audit") view=pages::audit::AuditLogPage ssr=SsrMode::Async/>
                        <Route path=path!("/login") view=pages::login::LoginPage ssr=SsrMode::Async/>
                        <Route path=path!("/logout") view=pages::login::LogoutPage ssr=SsrMode::Async/>
                    </Routes>
                </ErrorBoundary>
            </Layout>
        </Router>
    }
}
