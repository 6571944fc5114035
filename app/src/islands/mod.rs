//! The only parts of the console that run in the browser (leptos islands, issue 15). Every page
//! is server HTML; these few make it live:
//! - `LiveRegions` (in the layout, once per page): re-renders the page's `data-live` regions from
//!   the server every `data-refresh` seconds, switches `a[data-nav]` links (the chart ranges) in
//!   place, shows chart hover values, and marks `<body data-hydrated>` once the page is live;
//! - `EnvFilter`: the overview's filter box;
//! - `Countdown`: the time left on credentials just issued;
//! - `ProfileFields`: the access request form's fields that depend on the profile.
//!
//! Islands take small props, call no server function and use no model type, so the wasm holds
//! neither server_fn's client nor serde-heavy types nor chrono.

use leptos::prelude::*;

/// Whether an environment card matches every word of the filter: its name or region contains the
/// word, or its tier is the word.
pub fn card_matches(name: &str, tier: &str, region: &str, needle: &str) -> bool {
    let needle = needle.trim().to_lowercase();
    needle.is_empty()
        || needle
            .split_whitespace()
            .all(|w| name.to_lowercase().contains(w) || tier == w || region.to_lowercase().contains(w))
}

/// `29 min 59 s left`, or `expired`.
pub fn countdown_text(left_ms: i64) -> String {
    let ms = left_ms.max(0);
    if ms == 0 {
        "expired".to_string()
    } else {
        format!("{} min {:02} s left", ms / 60_000, (ms / 1000) % 60)
    }
}

/// Keeps the page live (see the module notes). Renders nothing.
#[island]
pub fn LiveRegions() -> impl IntoView {
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| browser::start());
}

/// The overview's filter: takes the cards in `[data-filter-list]` that do not match out of the
/// list and counts the others. The cards stay server HTML; a refreshed list is filtered again.
#[island]
pub fn EnvFilter() -> impl IntoView {
    let (shown, set_shown) = signal(None::<(usize, usize)>);
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| browser::on_swapped(move || set_shown.set(browser::filter_cards(None))));
    view! {
        <input
            type="search"
            class="filter"
            data-testid="env-filter"
            placeholder="Filter by name, tier or region"
            aria-label="Filter environments"
            on:input=move |ev| {
                let needle = event_target_value(&ev);
                #[cfg(feature = "hydrate")]
                set_shown.set(browser::filter_cards(Some(&needle)));
                #[cfg(not(feature = "hydrate"))]
                let _ = (needle, set_shown);
            }
        />
        <span class="muted" data-testid="env-count">{move || shown.get().map(|(n, total)| format!("{n} of {total} environments"))}</span>
    }
}

/// The time left on credentials just issued, from the server's clock at issue. It also turns
/// the page's history entry into a plain GET, so a reload never posts the activation again.
#[island]
pub fn Countdown(left_ms: i64) -> impl IntoView {
    let (left, set_left) = signal(left_ms);
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        browser::forget_post();
        let start = js_sys::Date::now();
        if let Ok(h) = set_interval_with_handle(
            move || set_left.set(left_ms - (js_sys::Date::now() - start) as i64),
            std::time::Duration::from_secs(1),
        ) {
            on_cleanup(move || h.clear());
        }
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = set_left;
    view! { <strong data-testid="countdown">{move || countdown_text(left.get())}</strong> }
}

/// What the access request form needs to know of a profile (a prop: small, no model type).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ProfileChoice {
    pub environment: String,
    pub name: String,
    pub max_minutes: u32,
    pub ticket_pattern: Option<String>,
}

impl ProfileChoice {
    /// The longest request the server accepts for it: its maximum, and never over an hour.
    pub fn longest(&self) -> u32 {
        self.max_minutes.min(60)
    }
}

/// The access request form's fields that depend on the profile: the profile list follows the
/// environment, the minutes are bounded by the profile's maximum, the ticket is required where the
/// profile has a pattern. The server rendering (and a browser without script) lists every
/// profile; the server checks all of it either way.
#[island]
pub fn ProfileFields(profiles: Vec<ProfileChoice>) -> impl IntoView {
    let mut envs: Vec<String> = Vec::new();
    for p in &profiles {
        if !envs.contains(&p.environment) {
            envs.push(p.environment.clone());
        }
    }
    let all = StoredValue::new(profiles);
    // Filtering starts once the island is live, so that its first render is the server's.
    let live = RwSignal::new(false);
    let env = RwSignal::new(envs.first().cloned().unwrap_or_default());
    let first_of = move |e: &str| all.with_value(|a| a.iter().find(|p| p.environment == e).map(|p| p.name.clone()));
    let picked = RwSignal::new(first_of(&env.get_untracked()).unwrap_or_default());
    let (env_ref, profile_ref) = (
        NodeRef::<leptos::html::Select>::new(),
        NodeRef::<leptos::html::Select>::new(),
    );
    // What was chosen before the script ran is kept (a profile of another environment gives way
    // to the first of the chosen one).
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        if let Some(e) = env_ref.get_untracked() {
            let e = e.value();
            let p = profile_ref.get_untracked().map(|p| p.value()).unwrap_or_default();
            let theirs = all.with_value(|a| a.iter().any(|x| x.environment == e && x.name == p));
            picked.set(if theirs { p } else { first_of(&e).unwrap_or_default() });
            env.set(e);
        }
        live.set(true);
    });
    let selected = move || {
        let (e, n) = (env.get(), picked.get());
        all.with_value(|a| a.iter().find(|p| p.environment == e && p.name == n).cloned())
    };
    let options = move || {
        let (on, e) = (live.get(), env.get());
        all.with_value(|a| {
            a.iter()
                .filter(|p| !on || p.environment == e)
                .map(|p| {
                    let name = p.name.clone();
                    // Options are reused by position when the list changes: the selection is
                    // set from `picked`, so what is shown is what the rules below describe.
                    let is_picked = {
                        let name = name.clone();
                        move || picked.get() == name
                    };
                    view! { <option value=name.clone() prop:selected=is_picked>{name.clone()}</option> }
                })
                .collect_view()
        })
    };
    let rule = move || {
        selected().filter(|_| live.get()).map(|p| {
            let ticket = match &p.ticket_pattern {
                Some(t) => format!("a ticket matching {t}"),
                None => "ticket optional".to_string(),
            };
            format!("{}: at most {} min, {ticket}.", p.name, p.longest())
        })
    };
    view! {
        <label>"Environment"
            <select
                name="environment"
                node_ref=env_ref
                on:change=move |ev| {
                    let e = event_target_value(&ev);
                    picked.set(first_of(&e).unwrap_or_default());
                    env.set(e);
                }
            >
                {envs.into_iter().map(|e| { let v = e.clone(); view! { <option value=v>{e}</option> } }).collect_view()}
            </select>
        </label>
        <label>"Profile"
            <select name="profile" node_ref=profile_ref on:change=move |ev| picked.set(event_target_value(&ev))>{options}</select>
        </label>
        <p class="muted" data-testid="profile-rule">{rule}</p>
        <label>"Reason" <input name="reason" required maxlength="500"/></label>
        <label>"Ticket"
            <input
                name="ticket"
                maxlength="64"
                required=move || live.get() && selected().is_some_and(|p| p.ticket_pattern.is_some())
                placeholder=move || selected().filter(|_| live.get()).and_then(|p| p.ticket_pattern).unwrap_or_else(|| "INC-1234".into())
            />
        </label>
        <label>"Minutes (at most the profile's maximum, 60)"
            <input
                name="minutes"
                type="number"
                min="1"
                max=move || selected().filter(|_| live.get()).map(|p| p.longest()).unwrap_or(60).to_string()
                value="30"
            />
        </label>
    }
}

#[cfg(feature = "hydrate")]
mod browser;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_matches_every_word_and_the_countdown_reads_minutes_and_seconds() {
        assert!(card_matches(
            "homebrew-bottles-sync-prod",
            "prod",
            "us-east-1",
            "homebrew"
        ));
        assert!(card_matches(
            "curriculum-alignment-prod",
            "prod",
            "eu-central-1",
            "eu-central prod"
        ));
        assert!(!card_matches("taskflow-production", "prod", "us-east-1", "eu-central"));
        assert!(
            !card_matches("taskflow-dev", "dev", "us-east-1", "pro"),
            "a tier is matched whole"
        );
        assert!(card_matches("x", "dev", "r", "  "));
        assert_eq!(countdown_text(30 * 60_000), "30 min 00 s left");
        assert_eq!(countdown_text(29 * 60_000 + 59_999), "29 min 59 s left");
        assert_eq!(countdown_text(0), "expired");
        assert_eq!(countdown_text(-5), "expired");
    }
}
