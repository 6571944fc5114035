pub mod access;
pub mod audit;
pub mod backups;
pub mod changes;
pub mod deployments;
pub mod environment;
pub mod incidents;
pub mod login;
pub mod logs;
pub mod metrics;
pub mod not_found;
pub mod overview;
pub mod service;

use leptos::prelude::*;

/// A part of a page that the `LiveRegions` island re-renders from the server every `every`
/// seconds while the page is open (and not hidden), so the page stays current without its view
/// code in the browser. A region in which a field has the focus or was edited is left alone.
#[component]
pub(crate) fn Live(name: &'static str, every: u32, children: Children) -> impl IntoView {
    view! { <div data-live=name data-refresh=every>{children()}</div> }
}
