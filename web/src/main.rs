//! Kafka Sandbox web app (Yew). The app itself arrives with issue 6; for now it proves that
//! the simulation core and Yew compile together for `wasm32-unknown-unknown`.
use yew::prelude::*;

#[function_component(App)]
fn app() -> Html {
    html! { <main><h1>{ "Kafka Sandbox" }</h1><p>{ sandbox_core::VERSION }</p></main> }
}

fn main() {
    yew::Renderer::<App>::new().render();
}
