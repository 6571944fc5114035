//! Minimal reproducer of leptos issue #4773 (open upstream; the console's "rare SSR stall",
//! docs/PERFORMANCE.md): a Resource whose future is first polled while any thread holds
//! `SuppressResourceLoad`, the process-global flag `RouteList::generate` raises while it walks the
//! app, never loads, even after the flag is lowered, so the render awaiting it never finishes.
//!
//! `cargo run -p server --example leptos_4773` prints what happened and exits 1 while the bug is
//! there (the render is still pending 5 s after the flag was lowered), 0 once Leptos fixes it.
//! The console works round it by generating its route list once per process (`http::app_routes`).

use futures::StreamExt;
use leptos::prelude::*;
use std::future::Future;
use std::process::ExitCode;
use std::task::{Context, Waker};
use std::time::Duration;

#[component]
fn Page() -> impl IntoView {
    let answer = Resource::new(|| (), |_| async { 42 });
    view! {
        <Suspense fallback=|| "loading">
            {move || Suspend::new(async move { format!("answer {}", answer.await) })}
        </Suspense>
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    // As a server starts: generating the (here empty) route list also sets Leptos's executor.
    let _ = leptos_axum::generate_route_list(Page);
    let owner = Owner::new();
    let render = {
        // Another thread generating a route list (another console starting in the process)
        // while this request renders: the Resource is created, and its future first polled,
        // while the flag is up.
        let _generating = leptos::server::SuppressResourceLoad::new();
        let mut render = Box::pin(owner.with(|| Page().to_html_stream_in_order().collect::<String>()));
        let first = render.as_mut().poll(&mut Context::from_waker(Waker::noop()));
        println!("first poll while the flag is up: pending = {}", first.is_pending());
        render
    };
    // The flag is down again: the render should finish at once.
    match tokio::time::timeout(Duration::from_secs(5), render).await {
        Ok(html) => {
            println!("rendered: {html}");
            ExitCode::SUCCESS
        }
        Err(_) => {
            println!("still pending 5 s after the flag was lowered: leptos issue #4773");
            ExitCode::FAILURE
        }
    }
}
