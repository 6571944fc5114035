pub mod access;
pub mod audit;
pub mod backups;
pub mod deployments;
pub mod environment;
pub mod incidents;
pub mod login;
pub mod metrics;
pub mod not_found;
pub mod overview;
pub mod service;

use leptos::prelude::*;

/// Refetches `refetch` every `seconds` while the page is open in a hydrated browser.
pub(crate) fn auto_refresh(seconds: u64, refetch: impl Fn() + Clone + 'static) {
    Effect::new(move |_| {
        let refetch = refetch.clone();
        if let Ok(handle) = set_interval_with_handle(refetch, std::time::Duration::from_secs(seconds)) {
            on_cleanup(move || handle.clear());
        }
    });
}
