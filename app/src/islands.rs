//! The only parts of the console that run in the browser (leptos islands, issue 15). Every page
//! is server HTML; these few make it live:
//! - `LiveRegions` (in the layout, once per page): re-renders the page's `data-live` regions from
//!   the server every `data-refresh` seconds, switches `a[data-nav]` links (the chart ranges) in
//!   place, shows chart hover values, and marks `<body data-hydrated>` once the page is live;
//! - `EnvFilter`: the overview's filter box;
//! - `Countdown`: the time left on credentials just issued.
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

#[cfg(feature = "hydrate")]
mod browser {
    use crate::components::chart::{BOTTOM, H, LEFT, RIGHT, TOP, W, fmt_value};
    use crate::model::time::hhmm;
    use std::cell::RefCell;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;
    use web_sys::{Document, Element, Event, MouseEvent};

    const SVG: &str = "http://www.w3.org/2000/svg";
    const SWAPPED: &str = "console:swapped";

    thread_local! {
        /// Cards the filter took out of the list, put back before each filtering.
        static STASH: RefCell<Vec<Element>> = const { RefCell::new(Vec::new()) };
    }

    fn document() -> Option<Document> {
        web_sys::window()?.document()
    }

    fn listen(target: &web_sys::EventTarget, event: &str, f: impl FnMut(Event) + 'static) {
        let cb = Closure::<dyn FnMut(Event)>::new(f);
        let _ = target.add_event_listener_with_callback(event, cb.as_ref().unchecked_ref());
        // Listeners live as long as the page.
        cb.forget();
    }

    pub fn start() {
        let Some(doc) = document() else { return };
        let every = live_regions(&doc)
            .iter()
            .filter_map(|r| r.get_attribute("data-refresh")?.parse::<i32>().ok())
            .filter(|s| *s > 0)
            .min();
        if let (Some(secs), Some(w)) = (every, web_sys::window()) {
            let tick = Closure::<dyn FnMut()>::new(move || {
                let hidden = document().is_some_and(|d| d.hidden());
                if !hidden {
                    wasm_bindgen_futures::spawn_local(refresh(None));
                }
            });
            let _ =
                w.set_interval_with_callback_and_timeout_and_arguments_0(tick.as_ref().unchecked_ref(), secs * 1000);
            tick.forget();
        }
        listen(&doc, "click", |ev| {
            let link = ev
                .target()
                .and_then(|t| t.dyn_into::<Element>().ok())
                .and_then(|e| e.closest("a[data-nav]").ok().flatten());
            let plain = ev
                .dyn_ref::<MouseEvent>()
                .is_some_and(|m| m.button() == 0 && !m.ctrl_key() && !m.meta_key() && !m.shift_key());
            if let (Some(a), true) = (link, plain)
                && let Some(href) = a.get_attribute("href")
            {
                ev.prevent_default();
                wasm_bindgen_futures::spawn_local(refresh(Some(href)));
            }
        });
        if let Some(w) = web_sys::window() {
            listen(&w, "popstate", |_| wasm_bindgen_futures::spawn_local(refresh(None)));
        }
        listen(&doc, "mousemove", |ev| {
            if let Some(m) = ev.dyn_ref::<MouseEvent>() {
                hover(m);
            }
        });
        listen(&doc, "mouseout", |ev| {
            if let Some(m) = ev.dyn_ref::<MouseEvent>() {
                let into = m.related_target().and_then(|t| t.dyn_into::<Element>().ok());
                let still_in = into.and_then(|e| e.closest("svg[data-hover]").ok().flatten()).is_some();
                if !still_in {
                    clear_readouts();
                }
            }
        });
        if let Some(body) = doc.body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    }

    fn live_regions(doc: &Document) -> Vec<Element> {
        let mut out = Vec::new();
        if let Ok(list) = doc.query_selector_all("[data-live]") {
            for i in 0..list.length() {
                if let Some(e) = list.item(i).and_then(|n| n.dyn_into::<Element>().ok()) {
                    out.push(e);
                }
            }
        }
        out
    }

    /// Fetches the page (`to`, or the current one) as server HTML and puts its live regions in
    /// place of the current ones. A timed refresh leaves a region alone while a field in it has
    /// the focus; a navigation (`to`) that gets no page falls back to loading it.
    async fn refresh(to: Option<String>) {
        let Some(w) = web_sys::window() else { return };
        let Some(doc) = document() else { return };
        let url = match &to {
            Some(u) => u.clone(),
            None => w.location().href().unwrap_or_default(),
        };
        let Some(text) = fetch_html(&w, &url).await else {
            if to.is_some() {
                let _ = w.location().assign(&url);
            }
            return;
        };
        let Ok(parser) = web_sys::DomParser::new() else { return };
        let Ok(fresh) = parser.parse_from_string(&text, web_sys::SupportedType::TextHtml) else {
            return;
        };
        let focused = doc.active_element();
        for region in live_regions(&doc) {
            let Some(name) = region.get_attribute("data-live") else {
                continue;
            };
            if to.is_none() && busy(&region, focused.as_ref()) {
                continue;
            }
            let selector = format!("[data-live=\"{}\"]", name.replace('"', ""));
            if let Ok(Some(new)) = fresh.query_selector(&selector)
                && let Ok(node) = doc.import_node_with_deep(&new, true)
            {
                let _ = region.replace_with_with_node_1(&node);
            }
        }
        if let Some(u) = &to
            && let Ok(h) = w.history()
        {
            let _ = h.push_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(u));
        }
        STASH.with(|s| s.borrow_mut().clear());
        if let Ok(ev) = web_sys::Event::new(SWAPPED) {
            let _ = doc.dispatch_event(&ev);
        }
    }

    /// Someone is at work in this region: a field in it has the focus or holds what they typed.
    fn busy(region: &Element, focused: Option<&Element>) -> bool {
        if focused.is_some_and(|f| region.contains(Some(f))) {
            return true;
        }
        let Ok(fields) = region.query_selector_all("input, textarea") else {
            return false;
        };
        (0..fields.length()).filter_map(|i| fields.item(i)).any(|n| {
            if let Some(i) = n.dyn_ref::<web_sys::HtmlInputElement>() {
                i.value() != i.default_value()
            } else if let Some(t) = n.dyn_ref::<web_sys::HtmlTextAreaElement>() {
                t.default_value().is_ok_and(|d| t.value() != d)
            } else {
                false
            }
        })
    }

    async fn fetch_html(w: &web_sys::Window, url: &str) -> Option<String> {
        let init = web_sys::RequestInit::new();
        let headers = web_sys::Headers::new().ok()?;
        headers.set("accept", "text/html").ok()?;
        init.set_headers(&headers);
        let answer = wasm_bindgen_futures::JsFuture::from(w.fetch_with_str_and_init(url, &init))
            .await
            .ok()?
            .dyn_into::<web_sys::Response>()
            .ok()?;
        if !answer.ok() {
            return None;
        }
        wasm_bindgen_futures::JsFuture::from(answer.text().ok()?)
            .await
            .ok()?
            .as_string()
    }

    /// Calls `f` after each region swap.
    pub fn on_swapped(mut f: impl FnMut() + 'static) {
        if let Some(doc) = document() {
            listen(&doc, SWAPPED, move |_| f());
        }
    }

    /// Filters the overview's cards by `needle` (or the filter box's value): how many are shown,
    /// of how many. The others are taken out of the list, not hidden, and put back in order.
    pub fn filter_cards(needle: Option<&str>) -> Option<(usize, usize)> {
        let doc = document()?;
        let list = doc.query_selector("[data-filter-list]").ok().flatten()?;
        let needle = match needle {
            Some(n) => n.to_string(),
            None => doc
                .query_selector("[data-testid=env-filter]")
                .ok()
                .flatten()
                .and_then(|e| e.dyn_into::<web_sys::HtmlInputElement>().ok())
                .map(|i| i.value())
                .unwrap_or_default(),
        };
        STASH.with(|s| {
            let mut stash = s.borrow_mut();
            for card in stash.drain(..) {
                let _ = list.append_child(&card);
            }
            let mut cards = Vec::new();
            let children = list.children();
            for i in 0..children.length() {
                if let Some(c) = children.item(i) {
                    cards.push(c);
                }
            }
            let order = |c: &Element| {
                c.get_attribute("data-order")
                    .and_then(|o| o.parse::<u32>().ok())
                    .unwrap_or(0)
            };
            cards.sort_by_key(order);
            let (mut shown, total) = (0, cards.len());
            for card in cards {
                let attr = |k: &str| card.get_attribute(k).unwrap_or_default();
                if super::card_matches(
                    &attr("data-env-name"),
                    &attr("data-env-tier"),
                    &attr("data-env-region"),
                    &needle,
                ) {
                    let _ = list.append_child(&card);
                    shown += 1;
                } else {
                    let _ = list.remove_child(&card);
                    stash.push(card);
                }
            }
            Some((shown, total))
        })
    }

    fn clear_readouts() {
        if let Some(doc) = document()
            && let Ok(list) = doc.query_selector_all("svg[data-hover] .hover")
        {
            for i in 0..list.length() {
                if let Some(e) = list.item(i).and_then(|n| n.dyn_into::<Element>().ok()) {
                    e.remove();
                }
            }
        }
    }

    /// The readout of a chart under the mouse: the time there and each series' nearest value.
    fn hover(m: &MouseEvent) {
        let svg = m
            .target()
            .and_then(|t| t.dyn_into::<Element>().ok())
            .and_then(|e| e.closest("svg[data-hover]").ok().flatten());
        let Some(svg) = svg else { return };
        let num = |k: &str| svg.get_attribute(k).and_then(|v| v.parse::<i64>().ok());
        let (Some(t0), Some(t1)) = (num("data-t0"), num("data-t1")) else {
            return;
        };
        let long = svg.get_attribute("data-long").as_deref() == Some("1");
        let rect = svg.get_bounding_client_rect();
        if rect.width() <= 0.0 {
            return;
        }
        let x = (f64::from(m.client_x()) - rect.left()) * W / rect.width();
        let t = t0 + (((x - LEFT) / (W - LEFT - RIGHT)).clamp(0.0, 1.0) * (t1 - t0) as f64) as i64;
        let mut values = Vec::new();
        if let Ok(paths) = svg.query_selector_all("path[data-points]") {
            for i in 0..paths.length() {
                let Some(p) = paths.item(i).and_then(|n| n.dyn_into::<Element>().ok()) else {
                    continue;
                };
                let label = p.get_attribute("data-label").unwrap_or_default();
                let points = p.get_attribute("data-points").unwrap_or_default();
                let nearest = points
                    .split(' ')
                    .filter_map(|pair| {
                        let (pt, v) = pair.split_once(',')?;
                        Some((pt.parse::<i64>().ok()?, v.parse::<f64>().ok()?))
                    })
                    .min_by_key(|(pt, _)| (pt - t).abs());
                if let Some((_, v)) = nearest {
                    values.push(format!("{label} {}", fmt_value(v)));
                }
            }
        }
        let Some(doc) = document() else { return };
        let cx = LEFT + (t - t0) as f64 / (t1 - t0).max(1) as f64 * (W - LEFT - RIGHT);
        let line = svg
            .query_selector("line.hover")
            .ok()
            .flatten()
            .or_else(|| make(&doc, &svg, "line", &[("class", "cursor hover")]));
        let text = svg.query_selector("text.hover").ok().flatten().or_else(|| {
            make(
                &doc,
                &svg,
                "text",
                &[
                    ("class", "readout hover"),
                    ("data-testid", "readout"),
                    ("x", &(LEFT + 4.0).to_string()),
                    ("y", &(TOP + 12.0).to_string()),
                ],
            )
        });
        if let Some(line) = line {
            for (k, v) in [("x1", cx), ("x2", cx), ("y1", TOP), ("y2", H - BOTTOM)] {
                let _ = line.set_attribute(k, &v.to_string());
            }
        }
        if let Some(text) = text {
            text.set_text_content(Some(&format!("{} {}", hhmm(t, long), values.join(" · "))));
        }
    }

    fn make(doc: &Document, parent: &Element, tag: &str, attrs: &[(&str, &str)]) -> Option<Element> {
        let e = doc.create_element_ns(Some(SVG), tag).ok()?;
        for (k, v) in attrs {
            let _ = e.set_attribute(k, v);
        }
        parent.append_child(&e).ok()?;
        Some(e)
    }

    /// Replaces the current history entry (the answer to a POST) by the same URL as a GET, so
    /// that a reload shows the page afresh, never the credentials again.
    pub fn forget_post() {
        if let Some(w) = web_sys::window()
            && let (Ok(h), Ok(href)) = (w.history(), w.location().href())
        {
            let _ = h.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&href));
        }
    }
}

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
