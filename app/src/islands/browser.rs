//! The browser side of `LiveRegions`, `EnvFilter` and `Countdown`: region refreshes, in-place
//! navigation and posts, chart hover, the card filter (compiled for the `hydrate` feature only).

use crate::components::chart::{BOTTOM, H, LEFT, RIGHT, TOP, W, fmt_value};
use crate::model::time::hhmm;
use std::cell::RefCell;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{Document, Element, Event, MouseEvent};

const SVG: &str = "http://www.w3.org/2000/svg";
/// How long a refresh waits for its page.
const REFRESH_TIMEOUT_MS: u32 = 20_000;
/// How long a post waits for its answer: longer than the server's request deadline (30 s by
/// default), after which the page is read again to show what happened.
const POST_TIMEOUT_MS: u32 = 60_000;
const SWAPPED: &str = "console:swapped";

thread_local! {
    /// Cards the filter took out of the list, put back before each filtering.
    static STASH: RefCell<Vec<Element>> = const { RefCell::new(Vec::new()) };
    /// Bumped by every navigation and post: a timed refresh that started before one drops
    /// its answer, so an older page never lands over a newer one.
    static SEQ: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
    /// The HTML of each region as last fetched: an unchanged region is not swapped.
    static LAST: RefCell<std::collections::HashMap<String, String>> = RefCell::new(std::collections::HashMap::new());
    /// A timed refresh is under way: the next tick waits for it (no pile-up on a slow server).
    static REFRESHING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn bump() -> u32 {
    SEQ.with(|s| {
        s.set(s.get().wrapping_add(1));
        s.get()
    })
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
            let posting = document()
                .and_then(|d| d.query_selector("form[data-posting]").ok().flatten())
                .is_some();
            if !hidden && !posting && !REFRESHING.with(|r| r.replace(true)) {
                wasm_bindgen_futures::spawn_local(async {
                    refresh(None, false).await;
                    REFRESHING.with(|r| r.set(false));
                });
            }
        });
        let _ = w.set_interval_with_callback_and_timeout_and_arguments_0(tick.as_ref().unchecked_ref(), secs * 1000);
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
            wasm_bindgen_futures::spawn_local(refresh(Some(href), true));
        }
    });
    listen(&doc, "submit", |ev| {
        let Some(form) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlFormElement>().ok()) else {
            return;
        };
        // Only the forms of server functions; the others (sign out, activation, the dev
        // login) are plain posts on purpose.
        let action = form.get_attribute("action").unwrap_or_default();
        if !form.method().eq_ignore_ascii_case("post") {
            return;
        }
        if form.has_attribute("data-posting") {
            // A second click while the first post is under way (the credentials of an
            // activation would be lost to the refusal of the second).
            ev.prevent_default();
            return;
        }
        let _ = form.set_attribute("data-posting", "");
        if action.starts_with("/api/") {
            ev.prevent_default();
            wasm_bindgen_futures::spawn_local(submit(form, action));
        }
    });
    if let Some(w) = web_sys::window() {
        listen(&w, "popstate", |_| {
            let here = web_sys::window()
                .and_then(|w| w.location().href().ok())
                .unwrap_or_default();
            wasm_bindgen_futures::spawn_local(refresh(Some(here), false));
        });
        // Back from the browser's cache: forms posted before may post again.
        listen(&w, "pageshow", |_| {
            if let Some(doc) = document()
                && let Ok(list) = doc.query_selector_all("form[data-posting]")
            {
                for i in 0..list.length() {
                    if let Some(f) = list.item(i).and_then(|n| n.dyn_into::<Element>().ok()) {
                        let _ = f.remove_attribute("data-posting");
                    }
                }
            }
        });
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
/// place of the current ones. A timed refresh leaves a region alone while someone is at work
/// in it (`busy`) and drops an answer that a newer navigation or post overtook; a navigation
/// (`to`, added to the history when `push`) that gets no page falls back to loading it.
async fn refresh(to: Option<String>, push: bool) {
    let Some(w) = web_sys::window() else { return };
    let Some(doc) = document() else { return };
    let url = match &to {
        Some(u) => u.clone(),
        None => w.location().href().unwrap_or_default(),
    };
    let seq = if to.is_some() { bump() } else { SEQ.with(|s| s.get()) };
    let text = fetch_html(&w, &url).await;
    if seq != SEQ.with(|s| s.get()) {
        return; // a newer navigation or post has been shown meanwhile
    }
    let Some(text) = text else {
        if to.is_some() {
            let _ = w.location().assign(&url);
        }
        return;
    };
    if to.is_none() && w.location().href().ok().as_deref() != Some(url.as_str()) {
        return;
    }
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
        let Ok(Some(new)) = fresh.query_selector(&selector) else {
            continue;
        };
        // The same as the last answer: nothing to do (the islands in it stay as they are).
        let html = new.outer_html();
        if LAST.with(|l| l.borrow().get(&name) == Some(&html)) || region.outer_html() == html {
            LAST.with(|l| l.borrow_mut().insert(name, html));
            continue;
        }
        if let Ok(node) = doc.import_node_with_deep(&new, true) {
            let _ = region.replace_with_with_node_1(&node);
            LAST.with(|l| l.borrow_mut().insert(name, html));
            if let Some(e) = node.dyn_ref::<Element>() {
                hydrate_islands_in(&w, e);
            }
        }
    }
    if let (Some(u), true) = (&to, push)
        && let Ok(h) = w.history()
    {
        let _ = h.push_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(u));
    }
    STASH.with(|s| s.borrow_mut().clear());
    if let Ok(ev) = web_sys::Event::new(SWAPPED) {
        let _ = doc.dispatch_event(&ev);
    }
}

/// A form posted without leaving the page: the same POST a browser without script sends,
/// answered by the same 303. Landing on another page (a new incident or request) loads it;
/// back on this page, its `<main>` is put in place of this one (the outcome, an error next to
/// its form, emptied fields), keeping the scroll position. Anything else: the plain post.
async fn submit(form: web_sys::HtmlFormElement, action: String) {
    let Some(w) = web_sys::window() else { return };
    let Some(doc) = document() else { return };
    bump();
    let answer = post_form(&w, &form, &action).await;
    bump();
    let _ = form.remove_attribute("data-posting");
    // Never posted twice: whatever did not come back as a page of this console is shown as
    // the browser would have shown it (the page it landed on), or the page is read again.
    let (final_url, text) = match answer {
        Posted::Page(url, text) => (url, text),
        Posted::Landed(url) => {
            let _ = w.location().assign(&url);
            return;
        }
        Posted::Lost => {
            let _ = w.location().reload();
            return;
        }
        Posted::Refused(status, text) => {
            show_refusal(&doc, &form, status, &text);
            return;
        }
    };
    let here = w.location().pathname().unwrap_or_default();
    let there = web_sys::Url::new(&final_url).map(|u| u.pathname()).unwrap_or_default();
    if there != here {
        let _ = w.location().assign(&final_url);
        return;
    }
    let Ok(parser) = web_sys::DomParser::new() else { return };
    let Ok(fresh) = parser.parse_from_string(&text, web_sys::SupportedType::TextHtml) else {
        return;
    };
    if let (Ok(Some(old)), Ok(Some(new))) = (doc.query_selector("main"), fresh.query_selector("main"))
        && let Ok(node) = doc.import_node_with_deep(&new, true)
    {
        let _ = old.replace_with_with_node_1(&node);
        if let Ok(h) = w.history() {
            let _ = h.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&final_url));
        }
        if let Some(main) = node.dyn_ref::<Element>() {
            hydrate_islands_in(&w, main);
        }
        LAST.with(|l| l.borrow_mut().clear());
        STASH.with(|s| s.borrow_mut().clear());
        if let Ok(ev) = web_sys::Event::new(SWAPPED) {
            let _ = doc.dispatch_event(&ev);
        }
    }
}

enum Posted {
    /// The page the post landed on (200), and its URL.
    Page(String, String),
    /// Another answer (an error page, a page of another kind): its URL.
    Landed(String),
    /// No answer: the outcome is unknown.
    Lost,
    /// Refused before it reached a page: the status and what the server said.
    Refused(u16, String),
}

/// An alert in front of the form: what the HTTP layer answered, and that the outcome is to be
/// checked on the page (a deadline may have passed with the action carrying on).
fn show_refusal(doc: &Document, form: &web_sys::HtmlFormElement, status: u16, text: &str) {
    let said: String = text.trim().chars().take(300).collect();
    let message = format!(
        "The console answered {status}{}{said}. Whether it was done shows on this page once it is read again.",
        if said.is_empty() { "" } else { ": " }
    );
    let old = form
        .previous_element_sibling()
        .filter(|e| e.has_attribute("data-post-error"));
    if let Some(old) = old {
        old.set_text_content(Some(&message));
        return;
    }
    if let Ok(box_) = doc.create_element("div") {
        let _ = box_.set_attribute("class", "error-box");
        let _ = box_.set_attribute("role", "alert");
        let _ = box_.set_attribute("data-post-error", "");
        box_.set_text_content(Some(&message));
        let _ = form.before_with_node_1(&box_);
    }
}

/// POSTs the form as a browser would (urlencoded, `Accept: text/html`, following the 303).
async fn post_form(w: &web_sys::Window, form: &web_sys::HtmlFormElement, action: &str) -> Posted {
    let Some(answer) = send_form(w, form, action).await else {
        return Posted::Lost;
    };
    let url = answer.url();
    if !answer.ok() && !answer.redirected() {
        // Answered by the HTTP layer before any page (busy, too large, the deadline, a
        // refused origin): its URL is the action's, not a page to show.
        let text = body_text(&answer).await;
        return Posted::Refused(answer.status(), text.unwrap_or_default());
    }
    if !answer.ok() {
        return Posted::Landed(url);
    }
    let text = body_text(&answer).await;
    match text {
        Some(t) => Posted::Page(url, t),
        None => Posted::Landed(url),
    }
}

async fn send_form(w: &web_sys::Window, form: &web_sys::HtmlFormElement, action: &str) -> Option<web_sys::Response> {
    let data = web_sys::FormData::new_with_form(form).ok()?;
    let body = web_sys::UrlSearchParams::new_with_str_sequence_sequence(&data).ok()?;
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    let headers = web_sys::Headers::new().ok()?;
    headers.set("accept", "text/html").ok()?;
    headers.set("content-type", "application/x-www-form-urlencoded").ok()?;
    init.set_headers(&headers);
    init.set_body(&body.to_string().into());
    init.set_signal(Some(&web_sys::AbortSignal::timeout_with_u32(POST_TIMEOUT_MS)));
    wasm_bindgen_futures::JsFuture::from(w.fetch_with_str_and_init(action, &init))
        .await
        .ok()?
        .dyn_into::<web_sys::Response>()
        .ok()
}

/// Hydrates the islands in HTML put into the page (through the island script's
/// `window.__hydrateIsland`).
fn hydrate_islands_in(w: &web_sys::Window, root: &Element) {
    let Ok(f) = js_sys::Reflect::get(w, &"__hydrateIsland".into()) else {
        return;
    };
    let Some(f) = f.dyn_ref::<js_sys::Function>() else {
        return;
    };
    if let Ok(list) = root.query_selector_all("leptos-island") {
        for i in 0..list.length() {
            if let Some(e) = list.item(i).and_then(|n| n.dyn_into::<Element>().ok())
                && let Some(id) = e.get_attribute("data-component")
            {
                let _ = f.call2(&wasm_bindgen::JsValue::NULL, &e, &id.into());
            }
        }
    }
}

/// Someone is at work in this region: a field in it has the focus or holds what they typed.
fn busy(region: &Element, focused: Option<&Element>) -> bool {
    if focused.is_some_and(|f| region.contains(Some(f))) {
        return true;
    }
    if region.query_selector("form[data-posting]").ok().flatten().is_some() {
        return true;
    }
    let Ok(fields) = region.query_selector_all("input, textarea") else {
        return false;
    };
    (0..fields.length()).filter_map(|i| fields.item(i)).any(|n| {
        if let Some(i) = n.dyn_ref::<web_sys::HtmlInputElement>() {
            i.value() != i.default_value() || i.checked() != i.default_checked()
        } else if let Some(t) = n.dyn_ref::<web_sys::HtmlTextAreaElement>() {
            t.default_value().is_ok_and(|d| t.value() != d)
        } else if let Some(s) = n.dyn_ref::<web_sys::HtmlSelectElement>() {
            // Without a `selected` attribute the first option is the default.
            let options = s.options();
            if options.length() == 0 {
                return false;
            }
            let default = (0..options.length())
                .find(|i| {
                    options
                        .item(*i)
                        .and_then(|o| o.dyn_into::<web_sys::HtmlOptionElement>().ok())
                        .is_some_and(|o| o.default_selected())
                })
                .unwrap_or(0);
            s.selected_index() != default as i32
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
    // A stalled answer (a laptop asleep, a VPN gone) must not stop the refreshes for good.
    init.set_signal(Some(&web_sys::AbortSignal::timeout_with_u32(REFRESH_TIMEOUT_MS)));
    let answer = wasm_bindgen_futures::JsFuture::from(w.fetch_with_str_and_init(url, &init))
        .await
        .ok()?
        .dyn_into::<web_sys::Response>()
        .ok()?;
    // Not this page (an error, or redirected to sign in): nothing is swapped.
    if !answer.ok() || answer.redirected() {
        return None;
    }
    body_text(&answer).await
}

/// The body of an answer as text, if it has one.
async fn body_text(answer: &web_sys::Response) -> Option<String> {
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
