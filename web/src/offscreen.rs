//! Panels out of view do not render while the run plays.
//!
//! `<PauseOffScreen playing={..}>` wraps a panel (in a `display: contents` element, so the
//! page layout does not change) and watches it with an IntersectionObserver. While the run
//! plays and the panel is off screen, the wrapper declines its new props, so the panel is
//! not rendered again: the event log, the charts and the tables below the fold cost nothing
//! per frame. It renders with the latest props as soon as it comes into view (the next frame
//! brings them) or the run pauses.
use std::cell::Cell;
use std::rc::Rc;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct PauseOffScreenProps {
    pub playing: bool,
    #[prop_or_default]
    pub children: Html,
}

type Observer = (web_sys::IntersectionObserver, Closure<dyn FnMut(js_sys::Array)>);

pub struct PauseOffScreen {
    node: NodeRef,
    /// Whether the panel was outside the viewport (plus a margin) when last observed.
    off: Rc<Cell<bool>>,
    observer: Option<Observer>,
}

impl Component for PauseOffScreen {
    type Message = ();
    type Properties = PauseOffScreenProps;

    fn create(_: &Context<Self>) -> Self {
        PauseOffScreen { node: NodeRef::default(), off: Rc::new(Cell::new(false)), observer: None }
    }

    fn changed(&mut self, ctx: &Context<Self>, _old: &Self::Properties) -> bool {
        !(ctx.props().playing && self.off.get())
    }

    fn view(&self, ctx: &Context<Self>) -> Html {
        html! { <div class="pause-off-screen" ref={self.node.clone()}>{ ctx.props().children.clone() }</div> }
    }

    fn rendered(&mut self, _: &Context<Self>, first: bool) {
        if first {
            self.observer = observe(&self.node, self.off.clone());
        }
    }

    fn destroy(&mut self, _: &Context<Self>) {
        if let Some((o, _)) = self.observer.take() {
            o.disconnect();
        }
    }
}

/// Watches the wrapper's first element (the wrapper itself has no box) against the
/// viewport, with a margin so a panel renders just before it scrolls into view.
fn observe(node: &NodeRef, off: Rc<Cell<bool>>) -> Option<Observer> {
    let el = node.cast::<web_sys::Element>()?.first_element_child()?;
    let closure = Closure::<dyn FnMut(js_sys::Array)>::new(move |entries: js_sys::Array| {
        if let Some(e) = entries.iter().last().and_then(|e| e.dyn_into::<web_sys::IntersectionObserverEntry>().ok()) {
            off.set(!e.is_intersecting());
        }
    });
    let options = web_sys::IntersectionObserverInit::new();
    options.set_root_margin("200px 0px");
    let observer = web_sys::IntersectionObserver::new_with_options(closure.as_ref().unchecked_ref(), &options).ok()?;
    observer.observe(&el);
    Some((observer, closure))
}
