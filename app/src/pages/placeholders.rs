//! Sections whose features are still to come: they say so instead of pretending.

use leptos::prelude::*;

#[component]
pub fn IncidentsPage() -> impl IntoView {
    view! {
        <h1>"Incidents"</h1>
        <p class="muted">
            "Incident tracking (SEV1-SEV4, timelines, post-mortems) is not built yet. Nothing is recorded here."
        </p>
    }
}

#[component]
pub fn AccessPage() -> impl IntoView {
    view! {
        <h1>"Access"</h1>
        <p class="muted">
            "Break-glass production access (requests, approvals, temporary STS credentials) is not built yet. No access can be requested or granted here."
        </p>
    }
}
