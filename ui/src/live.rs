//! Live updates from the shell: `entity-changed`, `sync-status`, `run-events` and
//! `transfer-progress` events become signals in context. Resources read the version of the
//! tables they show, so a change refetches exactly them; a run's log view appends the
//! `run-events` of its run. Nothing polls.

use flightdeck_types::{AppNotice, EntityChanged, RunEvents, SyncInfo, TransferProgress};
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
    /// Runs (`executions`), not their timelines: those come as [`Live::run_events`].
    pub runs: RwSignal<u64>,
    pub schedules: RwSignal<u64>,
    pub errors: RwSignal<u64>,
    pub memories: RwSignal<u64>,
    /// Workflow definitions.
    pub workflows: RwSignal<u64>,
    /// Workflow runs, their checkpoints (step states) and approvals.
    pub workflow_runs: RwSignal<u64>,
    /// The latest sync status (`None` until the first one arrives).
    pub sync: RwSignal<Option<SyncInfo>>,
    /// The latest batch of new timeline lines of a live run. Batches can arrive faster than
    /// effects run, so a reader checks `seq` continuity and fetches what it missed.
    pub run_events: RwSignal<Option<RunEvents>>,
    /// How far the import or export under way is (Settings shows it as a progress bar).
    pub transfer: RwSignal<Option<TransferProgress>>,
    /// The newest notice (a run ended, an error escalated...), shown as a toast.
    pub notice: RwSignal<Option<AppNotice>>,
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
        if all || table == "executions" {
            self.runs.update(|v| *v += 1);
        }
        if all || table == "schedules" {
            self.schedules.update(|v| *v += 1);
        }
        if all || table == "error_records" {
            self.errors.update(|v| *v += 1);
        }
        if all || table == "memories" {
            self.memories.update(|v| *v += 1);
        }
        if all || table == "workflows" {
            self.workflows.update(|v| *v += 1);
        }
        if all || matches!(table, "workflow_runs" | "workflow_approvals") {
            self.workflow_runs.update(|v| *v += 1);
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
        runs: RwSignal::new(0),
        schedules: RwSignal::new(0),
        errors: RwSignal::new(0),
        memories: RwSignal::new(0),
        workflows: RwSignal::new(0),
        workflow_runs: RwSignal::new(0),
        sync: RwSignal::new(None),
        run_events: RwSignal::new(None),
        transfer: RwSignal::new(None),
        notice: RwSignal::new(None),
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
    let on_run_events = Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
        if let Some(batch) = payload::<RunEvents>(&event) {
            live.run_events.set(Some(batch));
        }
    });
    let on_notice = Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
        if let Some(notice) = payload::<AppNotice>(&event) {
            live.notice.set(Some(notice));
        }
    });
    let on_transfer = Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
        if let Some(progress) = payload::<TransferProgress>(&event) {
            live.transfer.set(Some(progress));
        }
    });
    for (name, handler) in [
        ("entity-changed", &on_change),
        ("sync-status", &on_sync),
        ("run-events", &on_run_events),
        ("transfer-progress", &on_transfer),
        ("notice", &on_notice),
    ] {
        if let Err(e) = tauri_listen(name, handler) {
            web_log(&format!("no live updates ({name}): {e:?}"));
        }
    }
    // The page keeps listening until it closes.
    on_change.forget();
    on_sync.forget();
    on_run_events.forget();
    on_transfer.forget();
    on_notice.forget();
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
