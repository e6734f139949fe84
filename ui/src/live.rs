//! Live updates from the shell: `entity-changed` and `sync-status` events become signals in
//! context. Resources read the version of the tables they show, so a change refetches
//! exactly them; nothing polls.

use flightdeck_types::{EntityChanged, SyncInfo};
use leptos::prelude::*;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// Tauri's event API (present with `app.withGlobalTauri`); `catch`: a plain browser has
    /// none, and the app then simply gets no live updates.
    #[wasm_bindgen(js_namespace = ["window", "__TAURI__", "event"], js_name = listen, catch)]
    fn tauri_listen(event: &str, handler: &Closure<dyn FnMut(JsValue)>)
        -> Result<JsValue, JsValue>;
}

#[derive(Clone, Copy)]
pub struct Live {
    pub tasks: RwSignal<u64>,
    pub environments: RwSignal<u64>,
    /// The latest sync status (`None` until the first one arrives).
    pub sync: RwSignal<Option<SyncInfo>>,
}

impl Live {
    fn bump(&self, table: &str) {
        let all = table == "*";
        if all || table == "tasks" {
            self.tasks.update(|v| *v += 1);
        }
        if all || table == "environments" {
            self.environments.update(|v| *v += 1);
        }
    }
}

pub fn use_live() -> Live {
    expect_context::<Live>()
}

fn payload<T: serde::de::DeserializeOwned>(event: &JsValue) -> Option<T> {
    let value = js_sys::Reflect::get(event, &JsValue::from_str("payload")).ok()?;
    serde_wasm_bindgen::from_value(value).ok()
}

/// Creates the signals, provides them as context and subscribes to the shell's events for
/// the life of the page.
pub fn provide_live() -> Live {
    let live = Live {
        tasks: RwSignal::new(0),
        environments: RwSignal::new(0),
        sync: RwSignal::new(None),
    };
    provide_context(live);
    let on_change = Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
        if let Some(changed) = payload::<EntityChanged>(&event) {
            live.bump(&changed.table);
        }
    });
    let on_sync = Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
        if let Some(info) = payload::<SyncInfo>(&event) {
            live.sync.set(Some(info));
        }
    });
    for (name, handler) in [("entity-changed", &on_change), ("sync-status", &on_sync)] {
        if let Err(e) = tauri_listen(name, handler) {
            web_log(&format!("no live updates ({name}): {e:?}"));
        }
    }
    // The page keeps listening until it closes.
    on_change.forget();
    on_sync.forget();
    // The status at start; events keep it current from then on.
    leptos::task::spawn_local(async move {
        if let Ok(info) = crate::api::sync_status().await {
            if live.sync.get_untracked().is_none() {
                live.sync.set(Some(info));
            }
        }
    });
    live
}

pub fn web_log(message: &str) {
    web_sys_console_log(message);
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = console, js_name = log)]
    fn web_sys_console_log(message: &str);
}
