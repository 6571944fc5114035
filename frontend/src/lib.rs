//! The wasm entry: hydrates the islands of the server-rendered page (`app::islands`); the rest
//! of the page stays server HTML.

// The islands are exported from the app crate; naming it links them in.
use app as _;

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    #[cfg(debug_assertions)]
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
}
