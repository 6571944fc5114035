//! Sections whose features are still to come: they say so instead of pretending.

use leptos::prelude::*;

#[component]
pub fn AccessPage() -> impl IntoView {
    view! {
        <h1>"Access"</h1>
        <p class="muted">
            "Break-glass production access (requests, approvals, temporary STS credentials) is not built yet. No access can be requested or granted here."
        </p>
    }
}
