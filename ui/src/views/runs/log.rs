//! A run's log, live: the lines already written are read once with `run_events`, and new ones
//! arrive as the shell's `run-events` (no polling). Lines are kept by `seq`, so one that comes
//! both ways shows once; a batch that starts past the last line known means batches were
//! missed, and the missing lines are read from the store.

use std::collections::BTreeMap;

use flightdeck_types::ExecutionEvent;
use leptos::html::Pre;
use leptos::prelude::*;

use crate::api::{self, ApiError};
use crate::live::use_live;

#[component]
pub fn RunLog(id: String) -> impl IntoView {
    let live = use_live();
    let lines = RwSignal::new(BTreeMap::<i64, ExecutionEvent>::new());
    let error = RwSignal::new(None::<ApiError>);
    // What the last read from the store covered, whether one is under way, and whether a
    // gap was seen meanwhile (then it reads again once done).
    let fetched_to = StoredValue::new(0i64);
    let loading = StoredValue::new(false);
    let again = StoredValue::new(false);
    let run_id = StoredValue::new(id);

    let fetch = move || {
        if loading.get_value() {
            again.set_value(true);
            return;
        }
        loading.set_value(true);
        leptos::task::spawn_local(async move {
            loop {
                let after = fetched_to.get_value();
                match api::run_events(run_id.get_value(), after).await {
                    Ok(events) => {
                        let full = events.len() >= 1_000;
                        if let Some(last) = events.last() {
                            fetched_to.set_value(last.seq.max(after));
                        }
                        lines.update(|map| {
                            map.extend(events.into_iter().map(|e| (e.seq, e)));
                        });
                        error.set(None);
                        if full {
                            continue;
                        }
                    }
                    Err(e) => error.set(Some(e)),
                }
                if !again.get_value() {
                    break;
                }
                again.set_value(false);
            }
            loading.set_value(false);
        });
    };
    fetch();

    Effect::new(move |_| {
        let Some(batch) = live.run_events.get() else {
            return;
        };
        if batch.execution_id != run_id.get_value() || batch.events.is_empty() {
            return;
        }
        let first = batch.events[0].seq;
        let known = lines.with_untracked(|map| map.keys().next_back().copied().unwrap_or(0));
        let gap = first > known.max(fetched_to.get_value()) + 1;
        lines.update(|map| map.extend(batch.events.into_iter().map(|e| (e.seq, e))));
        if gap {
            fetch();
        }
    });

    // Keep the newest line in view as lines arrive.
    let pre = NodeRef::<Pre>::new();
    Effect::new(move |_| {
        lines.track();
        if let Some(element) = pre.get() {
            let element: &wasm_bindgen::JsValue = element.as_ref();
            if let Ok(height) = js_sys::Reflect::get(element, &"scrollHeight".into()) {
                let _ = js_sys::Reflect::set(element, &"scrollTop".into(), &height);
            }
        }
    });

    // Each line's time, when asked for (off by default: the output reads as it was written).
    let times = RwSignal::new(false);
    view! {
        {move || error.get().map(|e| view! { <p class="form-error">{e.message}</p> })}
        <label class="muted log-times">
            <input type="checkbox" data-testid="run-log-times"
                prop:checked=move || times.get()
                on:change=move |ev| times.set(event_target_checked(&ev)) />
            " Times"
        </label>
        <pre class="log" data-testid="run-log" node_ref=pre>
            <For
                // The runner's own bookkeeping (`process`: the process group it watches) is
                // not the run's output.
                each=move || lines.with(|map| {
                    map.values().filter(|e| e.kind != "process").cloned().collect::<Vec<_>>()
                })
                key=|event| event.seq
                let:event
            >
                <LogLine event=event times=times />
            </For>
        </pre>
        {move || lines.with(BTreeMap::is_empty).then(|| view! {
            <p class="empty-hint" data-testid="run-log-empty">
                "No output yet: lines show here as the run writes them."
            </p>
        })}
    }
}

#[component]
fn LogLine(event: ExecutionEvent, times: RwSignal<bool>) -> impl IntoView {
    let text = match event.kind.as_str() {
        "stdout" | "stderr" => event.data,
        "status" => format!("── {} ──", event.data.replace('_', " ")),
        kind => format!("[{kind}] {}", event.data),
    };
    let at = super::super::format::local_clock(event.at);
    view! {
        <div class=format!("log-line log-{}", event.kind) data-testid="log-line"
            data-kind=event.kind.clone() data-seq=event.seq>
            {move || times.get().then(|| view! { <span class="log-time" data-testid="log-time">{format!("{at} ")}</span> })}
            <span data-testid="log-text">{text.clone()}</span>
        </div>
    }
}
