//! The root component: owns the reducer, the animation loop, the keyboard shortcuts and the
//! autosave; renders the panels from view models of the world at the cursor.
use crate::charts::Charts;
use crate::clients::{Consumers, Invariants, Producers, Summary};
use crate::cluster::ClusterView;
use crate::controls::{Header, Help, NoticeBar, Timebar};
use crate::dom;
use crate::edit::Knobs;
use crate::eventlog::{EventLog, SessionRef};
use crate::offscreen::PauseOffScreen;
use crate::schema_panel::SchemaPanel;
use crate::state::{link_of, source_text, AppState, Dispatch, Msg, Notice};
use crate::streams_panel::StreamsPanel;
use crate::vm;
use sandbox_core::sim::digest::format_digest;
use sandbox_core::summary::RunSummary;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use yew::prelude::*;

type FrameClosure = Rc<RefCell<Option<Closure<dyn FnMut(f64)>>>>;

/// Runs `requestAnimationFrame` while playing, sending a frame message each time.
fn start_frames(dispatch: Dispatch) -> impl FnOnce() {
    let running = Rc::new(std::cell::Cell::new(true));
    let id = Rc::new(std::cell::Cell::new(0));
    let slot: FrameClosure = Rc::new(RefCell::new(None));
    let request = |f: &Closure<dyn FnMut(f64)>| {
        dom::window().and_then(|w| w.request_animation_frame(f.as_ref().unchecked_ref()).ok()).unwrap_or(0)
    };
    {
        let (running, id2, slot2) = (running.clone(), id.clone(), slot.clone());
        *slot.borrow_mut() = Some(Closure::new(move |t: f64| {
            if !running.get() {
                return;
            }
            dispatch.dispatch(Msg::Frame(t));
            if let Some(f) = slot2.borrow().as_ref() {
                id2.set(request(f));
            }
        }));
    }
    if let Some(f) = slot.borrow().as_ref() {
        id.set(request(f));
    }
    move || {
        running.set(false);
        if let Some(w) = dom::window() {
            let _ = w.cancel_animation_frame(id.get());
        }
        // Dropped outside its own call: the effect cleanup runs from Yew, not from the frame.
        slot.borrow_mut().take();
    }
}

fn in_text_field(e: &web_sys::KeyboardEvent) -> bool {
    e.target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        .map(|el| {
            let tag = el.tag_name().to_ascii_lowercase();
            tag == "input" || tag == "textarea" || tag == "select" || el.has_attribute("contenteditable")
        })
        .unwrap_or(false)
}

/// Whether the key's target is a control that Space itself operates (a button presses, a
/// checkbox ticks, a disclosure opens): there Space does that, not play/pause.
fn on_space_control(e: &web_sys::KeyboardEvent) -> bool {
    e.target().and_then(|t| t.dyn_into::<web_sys::Element>().ok()).is_some_and(|el| {
        let tag = el.tag_name().to_ascii_lowercase();
        matches!(tag.as_str(), "button" | "a" | "summary" | "label")
            || el.get_attribute("role").is_some_and(|r| r == "button" || r == "link")
    })
}

/// Whether the help dialog is open (its keys are its own while it is).
fn help_open() -> bool {
    dom::document().and_then(|d| d.query_selector("[role=dialog]").ok().flatten()).is_some()
}

#[function_component(App)]
pub fn app() -> Html {
    let state = use_reducer(|| AppState::initial(&dom::location_hash(), dom::storage_get(dom::STORAGE_KEY)));
    let dispatch = state.dispatcher();

    // The animation loop.
    {
        let dispatch = dispatch.clone();
        // While playing, and while a long jump goes on over frames.
        use_effect_with(state.playing || state.fast_forward.is_some() || state.opening.is_some(), move |&animate| {
            let stop: Box<dyn FnOnce()> = if animate { Box::new(start_frames(dispatch)) } else { Box::new(|| ()) };
            stop
        });
    }

    // Keyboard shortcuts, and links pasted into the address bar.
    {
        let dispatch = dispatch.clone();
        use_effect_with((), move |_| {
            let doc = dom::document();
            let d = dispatch.clone();
            let keydown = doc.as_ref().map(|doc| {
                let opts = gloo::events::EventListenerOptions::enable_prevent_default();
                gloo::events::EventListener::new_with_options(doc, "keydown", opts, move |e| {
                    let Some(e) = e.dyn_ref::<web_sys::KeyboardEvent>() else { return };
                    if in_text_field(e) || e.ctrl_key() || e.meta_key() || e.alt_key() {
                        return;
                    }
                    let key = e.key();
                    if key == " " && on_space_control(e) {
                        return;
                    }
                    // The dialog keeps the keyboard: only Escape and ? (which close it) pass.
                    if help_open() && key != "Escape" && key != "?" {
                        return;
                    }
                    let msg = match key.as_str() {
                        " " => Some(Msg::TogglePlay),
                        "ArrowRight" if e.shift_key() => Some(Msg::NextInteresting),
                        "ArrowRight" => Some(Msg::StepForward),
                        "ArrowLeft" => Some(Msg::StepBack),
                        "Home" => Some(Msg::Seek(1)),
                        "End" => Some(Msg::ToEnd),
                        "+" | "=" => Some(Msg::SpeedBy(10)),
                        "-" | "_" => Some(Msg::SpeedBy(-10)),
                        "?" => Some(Msg::ToggleHelp),
                        // Dismisses the notice first, so what stopping says stays.
                        "Escape" => {
                            d.dispatch(Msg::Notice(None));
                            d.dispatch(Msg::Help(false));
                            Some(Msg::StopJump)
                        }
                        _ => None,
                    };
                    if let Some(m) = msg {
                        e.prevent_default();
                        d.dispatch(m);
                    }
                })
            });
            let d = dispatch.clone();
            let hashchange = dom::window().map(|w| {
                gloo::events::EventListener::new(&w, "hashchange", move |e| {
                    // The fragment the event is about: by the time it is dispatched the
                    // autosave may have replaced the address bar's (history.replaceState).
                    let hash = js_sys::Reflect::get(e, &wasm_bindgen::JsValue::from_str("newURL"))
                        .ok()
                        .and_then(|u| u.as_string())
                        .map(|u| u.split_once('#').map(|(_, f)| f.to_string()).unwrap_or_default())
                        .unwrap_or_else(dom::location_hash);
                    if !hash.is_empty() {
                        d.dispatch(Msg::OpenLink(hash));
                    }
                })
            });
            move || drop((keydown, hashchange))
        });
    }

    // When paused, the slow views catch up shortly after the last change.
    {
        let dispatch = dispatch.clone();
        use_effect_with((state.rev, state.playing), move |&(_, playing)| {
            let timer = (!playing).then(|| {
                gloo::timers::callback::Timeout::new(crate::state::SETTLE_MS, move || dispatch.dispatch(Msg::Refresh))
            });
            move || drop(timer)
        });
    }
    // Autosave and the URL: with the slow views (once a second while playing). While a bad
    // link's error shows, the address bar keeps that link as typed, to be fixed there.
    {
        let session = state.session.clone();
        let bad_link = matches!(state.notice, Some(Notice::BadLink { .. }));
        // A link still being opened is not saved: a reload then opens it again, whole.
        let opening = state.opening.is_some();
        use_effect_with(
            (state.slow_rev, Rc::as_ptr(&state.session) as usize, bad_link, opening),
            move |&(_, _, bad_link, opening)| {
                dom::set_body_flag("data-opening", opening);
                if opening {
                    return;
                }
                let link = link_of(&session.borrow());
                if !bad_link {
                    dom::set_hash(&link);
                }
                dom::storage_set(dom::STORAGE_KEY, &link);
            },
        );
    }
    use_effect_with((), |_| dom::mark_ready());

    let prev_cluster = use_mut_ref(|| None::<(u64, Rc<vm::ClusterVm>)>);
    let s = state.session.borrow();
    let w = &s.world;
    let summary = {
        let session = state.session.clone();
        use_memo((state.slow_rev, Rc::as_ptr(&state.session) as usize), move |_| {
            Rc::new(RunSummary::of(&session.borrow().world))
        })
    };
    let summary = Summary { rev: state.slow_rev, summary: (*summary).clone() };
    // The history check: at the slow cadence (it scans every send and read so far); while
    // playing a long run it waits for a pause rather than cost a frame every second.
    let history = {
        let session = state.session.clone();
        let playing = state.playing;
        use_memo((state.slow_rev, playing, Rc::as_ptr(&state.session) as usize), move |_| {
            let s = session.borrow();
            (!playing || s.history_size() <= crate::history_panel::LIVE_CHECK_MAX_OPS)
                .then(|| Rc::new(s.history_report()))
        })
    };
    let history = crate::history_panel::Report { rev: state.slow_rev, report: (*history).clone() };
    // Side panels: at most ten times a second while playing.
    let side = {
        let session = state.session.clone();
        use_memo((state.mid_rev, Rc::as_ptr(&state.session) as usize), move |_| {
            let s = session.borrow();
            let w = &s.world;
            (vm::producers(w), vm::consumers(w, &s.consumer_stops()), vm::groups(w), w.invariants.states.clone())
        })
    };
    // The Streams applications and their store queries: with the side panels, and at once
    // when the query changes.
    let streams = {
        let session = state.session.clone();
        use_memo((state.mid_rev, Rc::as_ptr(&state.session) as usize, state.iq.clone()), move |(_, _, iq)| {
            Rc::new(crate::streams_live::apps(&session.borrow().world, iq))
        })
    };
    // Kafka Connect: with the side panels. ksqlDB: from the run summary (slow cadence), whose
    // push query rows replay their source topic.
    let connect = {
        let session = state.session.clone();
        use_memo((state.mid_rev, Rc::as_ptr(&state.session) as usize), move |_| {
            Rc::new(crate::connect_live::connect(&session.borrow().world))
        })
    };
    let ksql = {
        let session = state.session.clone();
        let summary = summary.summary.clone();
        use_memo((state.slow_rev, Rc::as_ptr(&state.session) as usize), move |_| {
            Rc::new(crate::connect_live::ksql(&session.borrow().world, &summary.ksql))
        })
    };
    // The run's Schema Registry: with the side panels.
    let registry = {
        let session = state.session.clone();
        use_memo((state.mid_rev, Rc::as_ptr(&state.session) as usize), move |_| {
            crate::schema_vm::registry_at(&session.borrow()).map(Rc::new)
        })
    };
    // While playing, a partition scrolled out of view keeps its lanes as they were: its
    // logs are not read and its row is not rendered (it catches up when it scrolls back in
    // or the run pauses).
    // While a link opens, the cluster follows the replay at the mid cadence: the frames
    // go to the replay and the time bar's progress.
    let prev = prev_cluster.borrow().clone();
    let cluster = match prev {
        Some((mid, vm)) if state.opening.is_some() && mid == state.mid_rev => vm,
        prev => {
            let playing = state.playing;
            let vm = Rc::new(vm::cluster_in(
                w,
                prev.as_ref().map(|(_, vm)| &**vm),
                |tp| playing && crate::cluster::is_off_screen(tp),
                &state.partitions,
            ));
            *prev_cluster.borrow_mut() = Some((state.mid_rev, vm.clone()));
            vm
        }
    };
    // Topics a client may write to (the brokers refuse produces to internal topics).
    let topics: Vec<(String, u32)> = w
        .controller
        .image
        .topics
        .values()
        .filter(|t| !sandbox_core::record::is_internal_topic(&t.name))
        .map(|t| (t.name.to_string(), t.partitions.len() as u32))
        .collect();
    let time_ms = if state.playing { state.clock.as_ms_f64() } else { w.now.as_ms_f64() };
    let session_ref = SessionRef { session: state.session.clone(), key: state.mid_rev };
    let slow_ref = SessionRef { session: state.session.clone(), key: state.slow_rev };
    let text = source_text(&s.source).unwrap_or_default();
    let playing = state.playing;
    html! {
        <ContextProvider<Dispatch> context={dispatch.clone()}>
            <a class="skip" href="#cluster">{ "Skip to the cluster" }</a>
            <Header source={s.source.clone()} title={s.scenario.title.clone()} description={s.scenario.description.clone()}
                seed={s.seed} knobs={Knobs::of(&s.scenario)} link={(!state.playing).then(|| format!("{}#{}", dom::base_url(), link_of(&s)))}
                link_note={crate::state::link_note(&s)}
                source_text={text.clone()} />
            <Timebar cursor={s.cursor()} frontier={s.frontier()} playing={state.playing}
                speed={state.speed} time_ms={time_ms} digest={format_digest(w.digest())} at_end={s.at_end()}
                complete={s.frontier_is_end() || (s.at_end() && s.cursor() == s.frontier())}
                achieved={(state.playing && state.achieved_speed < 0.8 * state.speed_factor()).then_some(state.achieved_speed)}
                jump={state.fast_forward.map(|(goal, steps)| (goal == crate::session::Goal::End, steps))}
                opening={state.opening.as_ref().map(|o| o.replay.cursor())} />
            <NoticeBar notice={state.notice.clone()} />
            <main class="layout">
                <ClusterView vm={cluster} />
                <div class="side">
                    <crate::lessons::Lessons />
                    <PauseOffScreen playing={playing}>
                        <Producers producers={side.0.clone()} summary={summary.clone()} topics={topics} />
                    </PauseOffScreen>
                    <PauseOffScreen playing={playing}>
                        <Consumers consumers={side.1.clone()} groups={side.2.clone()} />
                    </PauseOffScreen>
                    <PauseOffScreen playing={playing}><Invariants states={side.3.clone()} /></PauseOffScreen>
                    <PauseOffScreen playing={playing}><crate::history_panel::HistoryCheck report={history} /></PauseOffScreen>
                    <crate::export_panel::ExportReal source_text={text} seed={s.seed} />
                </div>
                <PauseOffScreen playing={playing}><EventLog session={session_ref} filter={state.filter.clone()} playing={playing} topic={state.partitions.topic.clone()} /></PauseOffScreen>
                <PauseOffScreen playing={playing}><Charts session={slow_ref} summary={summary} /></PauseOffScreen>
                <PauseOffScreen playing={playing}><SchemaPanel registry={(*registry).clone()} /></PauseOffScreen>
                if !streams.is_empty() {
                    <PauseOffScreen playing={playing}><crate::streams_live::StreamsApps apps={(*streams).clone()} /></PauseOffScreen>
                }
                if connect.is_some() || !ksql.is_empty() {
                    <PauseOffScreen playing={playing}>
                        <crate::connect_live::ConnectKsql connect={(*connect).clone()} ksql={(*ksql).clone()} />
                    </PauseOffScreen>
                }
                <StreamsPanel seed={s.seed} />
            </main>
            if state.help { <Help /> }
            if state.notice.as_ref().is_some_and(Notice::is_error) { <span hidden=true data-testid="has-error"></span> }
        </ContextProvider<Dispatch>>
    }
}
