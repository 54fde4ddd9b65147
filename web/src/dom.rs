//! Small browser helpers. Every one tolerates a missing API (returns a default) so a
//! locked-down browser degrades instead of panicking.
use wasm_bindgen::JsCast;

pub const STORAGE_KEY: &str = "kafka-sandbox.session.v1";

thread_local! {
    /// The latest share link, for the crash report.
    static LAST_LINK: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

pub fn window() -> Option<web_sys::Window> {
    web_sys::window()
}

pub fn document() -> Option<web_sys::Document> {
    window()?.document()
}

/// Milliseconds since navigation (`performance.now()`).
pub fn now_ms() -> f64 {
    // Native unit tests of the reducer: no browser, a clock that stands still.
    if cfg!(not(target_arch = "wasm32")) {
        return 0.0;
    }
    window().and_then(|w| w.performance()).map(|p| p.now()).unwrap_or(0.0)
}

/// The URL fragment without `#`.
pub fn location_hash() -> String {
    window()
        .and_then(|w| w.location().hash().ok())
        .map(|h| h.strip_prefix('#').map(str::to_string).unwrap_or(h))
        .unwrap_or_default()
}

/// The page URL without its fragment.
pub fn base_url() -> String {
    window()
        .and_then(|w| w.location().href().ok())
        .map(|h| h.split('#').next().unwrap_or("").to_string())
        .unwrap_or_default()
}

/// The page URL without its query and fragment.
pub fn page_url() -> String {
    let href = base_url();
    href.split('?').next().unwrap_or("").to_string()
}

/// Replaces the fragment without a navigation or a history entry.
pub fn set_hash(fragment: &str) {
    let url = format!("#{fragment}");
    if let Some(h) = window().and_then(|w| w.history().ok()) {
        let _ = h.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url));
    }
    LAST_LINK.with(|l| *l.borrow_mut() = format!("{}{url}", base_url()));
}

pub fn last_link() -> String {
    LAST_LINK.with(|l| l.borrow().clone())
}

pub fn storage_get(key: &str) -> Option<String> {
    window()?.local_storage().ok()??.get_item(key).ok()?
}

pub fn storage_set(key: &str, value: &str) {
    if let Some(s) = window().and_then(|w| w.local_storage().ok()).flatten() {
        // Quota errors only cost the autosave.
        let _ = s.set_item(key, value);
    }
}

/// Offers `text` as a file download.
pub fn download(filename: &str, text: &str) {
    let Some(doc) = document() else { return };
    let parts = js_sys::Array::of1(&wasm_bindgen::JsValue::from_str(text));
    let opts = web_sys::BlobPropertyBag::new();
    opts.set_type("application/toml");
    let Ok(blob) = web_sys::Blob::new_with_str_sequence_and_options(&parts, &opts) else { return };
    let Ok(url) = web_sys::Url::create_object_url_with_blob(&blob) else { return };
    if let Ok(a) = doc.create_element("a") {
        if let Ok(a) = a.dyn_into::<web_sys::HtmlAnchorElement>() {
            a.set_href(&url);
            a.set_download(filename);
            a.click();
        }
    }
    let _ = web_sys::Url::revoke_object_url(&url);
}

/// Copies `text`; false when the browser offers no clipboard (a page served over plain
/// HTTP from another host has none).
pub fn copy_to_clipboard(text: &str) -> bool {
    let Some(w) = window() else { return false };
    let navigator = w.navigator();
    // `navigator.clipboard` is undefined outside secure contexts: check before calling it.
    let has = js_sys::Reflect::get(&navigator, &wasm_bindgen::JsValue::from_str("clipboard"))
        .is_ok_and(|c| !c.is_undefined() && !c.is_null());
    if !has {
        return false;
    }
    let _ = navigator.clipboard().write_text(text);
    true
}

/// Sets or removes a flag attribute on `<body>` (states the tests and the measurement
/// script wait for).
pub fn set_body_flag(name: &str, on: bool) {
    if let Some(body) = document().and_then(|d| d.body()) {
        let _ = if on { body.set_attribute(name, "1") } else { body.remove_attribute(name) };
    }
}

/// Marks the page interactive (for the measurement script and the tests).
pub fn mark_ready() {
    if let Some(body) = document().and_then(|d| d.body()) {
        if body.get_attribute("data-ready").is_none() {
            let _ = body.set_attribute("data-ready", "1");
            if let Some(p) = window().and_then(|w| w.performance()) {
                let _ = p.mark("sandbox-interactive");
            }
        }
    }
}

/// Shows the crash panel: built with text nodes only (the report may contain user text).
pub fn show_fatal(message: &str) {
    let Some(doc) = document() else { return };
    let Some(body) = doc.body() else { return };
    if doc.get_element_by_id("fatal").is_some() {
        return;
    }
    let link = last_link();
    let report = format!(
        "Kafka Sandbox {} crashed.\n\nerror: {message}\n\nshare link: {link}\nuser agent: {}\n",
        sandbox_core::VERSION,
        window().and_then(|w| w.navigator().user_agent().ok()).unwrap_or_default()
    );
    let build = || -> Result<(), wasm_bindgen::JsValue> {
        let panel = doc.create_element("section")?;
        panel.set_id("fatal");
        panel.set_attribute("role", "alert")?;
        let h = doc.create_element("h2")?;
        h.set_text_content(Some("Something went wrong in the simulation"));
        panel.append_child(&h)?;
        let p = doc.create_element("p")?;
        p.set_text_content(Some(
            "The page stopped to protect your session. Copy the report below when you tell us; \
             the link reopens the session as it was.",
        ));
        panel.append_child(&p)?;
        let area = doc.create_element("textarea")?;
        area.set_attribute("readonly", "")?;
        area.set_attribute("aria-label", "Error report")?;
        area.set_attribute("rows", "8")?;
        area.set_text_content(Some(&report));
        panel.append_child(&area)?;
        // The module is dead after a panic: the links must load the page again, and a link
        // that only changes the fragment would not (hence the query string).
        let links = doc.create_element("p")?;
        let session = if link.is_empty() {
            location_hash()
        } else {
            link.split_once('#').map(|(_, f)| f.to_string()).unwrap_or_default()
        };
        if !session.is_empty() && session != "new" {
            let a = doc.create_element("a")?;
            a.set_attribute("href", &format!("{}?reopen#{session}", page_url()))?;
            a.set_text_content(Some("Reopen this session"));
            links.append_child(&a)?;
            links.append_child(&doc.create_text_node(" · "))?;
        }
        let fresh = doc.create_element("a")?;
        fresh.set_attribute("href", &format!("{}?fresh#new", page_url()))?;
        fresh.set_text_content(Some("Start fresh"));
        links.append_child(&fresh)?;
        panel.append_child(&links)?;
        body.prepend_with_node_1(&panel)?;
        Ok(())
    };
    let _ = build();
}
