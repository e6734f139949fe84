//! Settings' memory search panel: the relevance floor under which search hits are dropped
//! (this device's; the CLI's `memory floor` reads and writes the same value).

use leptos::prelude::*;

use crate::api;

#[component]
pub fn SearchSettings() -> impl IntoView {
    let current = LocalResource::new(api::memory_floor);
    // What was typed since the page opened; None shows the saved floor.
    let draft = RwSignal::new(None::<String>);
    let save = Action::new_local(|text: &String| {
        let text = text.trim().to_string();
        async move {
            let floor = text.parse::<f64>().map_err(|_| api::ApiError {
                code: "invalid".into(),
                message: format!("\"{text}\" is not a number: give one from 0 to 1, such as 0.25"),
                field: Some("floor".into()),
            })?;
            api::set_memory_floor(floor).await
        }
    });
    let shown = move || {
        draft.get().unwrap_or_else(|| {
            current
                .get()
                .and_then(Result::ok)
                .map(|f| f.to_string())
                .unwrap_or_default()
        })
    };
    let error = move || save.value().get().and_then(Result::err).map(|e| e.message);
    let saved = move || matches!(save.value().get(), Some(Ok(_)));
    view! {
        <section class="panel" data-testid="search-settings">
            <h2>"Memory search"</h2>
            <form class="form-row" on:submit=move |ev| {
                ev.prevent_default();
                save.dispatch(shown());
            }>
                <label for="memory-floor">"Relevance floor"</label>
                <input id="memory-floor" class="input" data-testid="memory-floor" inputmode="decimal"
                    prop:value=shown on:input=move |ev| {
                        draft.set(Some(event_target_value(&ev)));
                        save.value().set(None);
                    } />
                <button class="button" type="submit" data-testid="memory-floor-save"
                    disabled=move || save.pending().get()>"Save"</button>
            </form>
            <p class="muted">
                "Hits less relevant than this (0 to 1) are left out, so a question with no answer \
                 returns nothing. 0 keeps every candidate; the default is 0.25."
            </p>
            {move || error().map(|m| view! { <p class="field-error" data-testid="field-error-floor">{m}</p> })}
            {move || saved().then(|| view! { <p class="muted" data-testid="memory-floor-saved">"Saved."</p> })}
        </section>
    }
}
