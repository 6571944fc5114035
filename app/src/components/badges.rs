use crate::error::AppError;
use crate::model::{DataNote, Health, Tier};
use leptos::prelude::*;

#[component]
pub fn HealthBadge(health: Health) -> impl IntoView {
    view! { <span class=format!("badge health-{}", health.label())>{health.label()}</span> }
}

#[component]
pub fn TierBadge(tier: Tier) -> impl IntoView {
    view! { <span class=format!("badge tier-{}", tier.label())>{tier.label()}</span> }
}

/// The label every piece of demo data carries.
#[component]
pub fn DemoBadge() -> impl IntoView {
    view! {
        <span class="badge demo" title="Simulated in the console, not read from AWS">
            "DEMO"
        </span>
    }
}

#[component]
pub fn DemoBanner() -> impl IntoView {
    view! {
        <p class="demo-banner" role="note">
            "Demo data: these environments are simulated in the console. Nothing here was read from AWS."
        </p>
    }
}

/// An error from a server function, said plainly, with what to do where there is something to do.
#[component]
pub fn ErrorBox(error: AppError) -> impl IntoView {
    let hint = match &error {
        AppError::Unauthenticated => Some(view! { <a href="/login">"Sign in"</a> }.into_any()),
        AppError::Forbidden(_) => Some(view! { <a href="/login">"Sign in with another role"</a> }.into_any()),
        _ => None,
    };
    view! {
        <div class="error-box" role="alert">
            <p>{error.to_string()}</p>
            {hint}
        </div>
    }
}

/// Parts of an environment that could not be read, or are shown from the cache after a failed
/// refresh (with their age).
#[component]
pub fn DataNotes(notes: Vec<DataNote>) -> impl IntoView {
    (!notes.is_empty()).then(|| {
        view! {
            <div class="error-box" role="alert" data-testid="data-notes">
                <ul>
                    {notes
                        .into_iter()
                        .map(|n| {
                            let what = match n.stale_age_s {
                                Some(age) => format!("{}: showing data from {age} s ago; the refresh failed: ", n.part),
                                None => format!("{}: could not be read: ", n.part),
                            };
                            view! { <li>{what}{n.message}</li> }
                        })
                        .collect_view()}
                </ul>
            </div>
        }
    })
}

/// The error of the last submission of a form, if any.
#[component]
pub fn ActionError<T, V>(value: V) -> impl IntoView
where
    T: Clone + Send + Sync + 'static,
    V: Get<Value = Option<Result<T, AppError>>> + Send + Sync + 'static,
{
    move || match value.get() {
        Some(Err(e)) => Some(view! { <ErrorBox error=e/> }),
        _ => None,
    }
}
