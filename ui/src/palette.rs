//! The command palette (Ctrl+K or Cmd+K, in every view, even while typing), the shortcut
//! overlay (`?`) and the shortcuts every view shares (issue 21, "feel like a desktop app"):
//! `g` then a letter goes to a view, `n` focuses the view's "new" field, `/` its search, Esc
//! closes an overlay. The palette jumps to any view, task, run, schedule or memory by typing
//! words of its name, and runs the common actions: new task, start a run of a task, search
//! memory, sync now.

use flightdeck_types::{ExecutionFilter, MemoryFilter, TaskFilter};
use leptos::html::Input;
use leptos::prelude::*;
use wasm_bindgen::JsCast;

use crate::api;
use crate::toasts::use_toasts;
use crate::views::Route;

/// Which overlay is open: the palette or the shortcut list (never both).
#[derive(Clone, Copy)]
pub struct Overlays {
    pub palette: RwSignal<bool>,
    pub help: RwSignal<bool>,
}

/// `g` then this letter goes to the view; the overlay lists them.
const GO_TO: [(&str, Route); 10] = [
    ("t", Route::Tasks),
    ("e", Route::Environments),
    ("r", Route::Runs),
    ("w", Route::Workflows),
    ("s", Route::Schedules),
    ("x", Route::Errors),
    ("i", Route::Insights),
    ("m", Route::Memory),
    ("y", Route::Sync),
    (",", Route::Settings),
];

/// The shortcuts, as the `?` overlay lists them.
const SHORTCUTS: [(&str, &str); 9] = [
    (
        "Ctrl+K / Cmd+K",
        "Command palette: jump anywhere, run an action",
    ),
    ("?", "This list"),
    ("g then a letter", "Go to a view (the letters are below)"),
    (
        "n",
        "The view's new item: task, memory, environment, schedule",
    ),
    ("/", "The view's search"),
    ("b", "Tasks: board or list"),
    (
        "Esc",
        "Close this or the palette; in a search, clear it and leave",
    ),
    ("↑ ↓ Enter", "In the palette: choose and run"),
    ("Ctrl+Z", "Undo, while a toast offers it"),
];

/// What choosing a palette entry does.
#[derive(Clone, Debug, PartialEq)]
enum Act {
    Go(Route),
    /// Go, then focus the field `css` once the view shows it.
    GoFocus(Route, &'static str),
    /// Go, then click the row `css` (an environment: its editor opens).
    GoClick(Route, String),
    /// Go, then bring the row `css` into view, marked for a moment (a schedule).
    GoShow(Route, String),
    SearchMemory(String),
    SyncNow,
}

#[derive(Clone, Debug, PartialEq)]
struct Entry {
    kind: &'static str,
    label: String,
    act: Act,
}

fn entry(kind: &'static str, label: impl Into<String>, act: Act) -> Entry {
    Entry {
        kind,
        label: label.into(),
        act,
    }
}

/// The views and actions, always there.
fn commands() -> Vec<Entry> {
    let mut entries: Vec<Entry> = Route::NAV
        .iter()
        .map(|r| entry("View", format!("Go to {}", r.label()), Act::Go(r.clone())))
        .collect();
    entries.push(entry(
        "Action",
        "New task",
        Act::GoFocus(Route::Tasks, "[data-testid=new-task-title]"),
    ));
    entries.push(entry("Action", "Sync now", Act::SyncNow));
    entries
}

/// Tasks (to open, or to start a run of), recent runs, schedules, memories, environments.
async fn records() -> Vec<Entry> {
    let mut entries = Vec::new();
    let tasks = api::list_tasks(TaskFilter::default())
        .await
        .unwrap_or_default();
    for t in &tasks {
        entries.push(entry(
            "Task",
            t.title.clone(),
            Act::Go(Route::Task(t.id.clone())),
        ));
    }
    for t in &tasks {
        entries.push(entry(
            "Action",
            format!("Start a run of {}", t.title),
            Act::GoFocus(Route::Task(t.id.clone()), "[data-testid=start-run-shell]"),
        ));
    }
    let titles = api::task_titles().await;
    let runs = api::list_runs(ExecutionFilter {
        limit: Some(30),
        ..Default::default()
    })
    .await
    .unwrap_or_default();
    for r in runs {
        let of = r
            .task_id
            .as_ref()
            .and_then(|id| titles.get(id).cloned())
            .unwrap_or_else(|| "no task".into());
        let label = format!(
            "{of}: {} run, {}",
            r.status.as_str(),
            crate::views::format::local_time(r.queued_at)
        );
        entries.push(entry("Run", label, Act::Go(Route::Run(r.id))));
    }
    for s in api::list_schedules().await.unwrap_or_default() {
        let row = format!("[data-testid=schedule-row][data-id='{}']", s.id);
        entries.push(entry(
            "Schedule",
            s.name,
            Act::GoShow(Route::Schedules, row),
        ));
    }
    for e in api::list_environments().await.unwrap_or_default() {
        let row = format!("[data-testid=env-row][data-id='{}']", e.id);
        entries.push(entry(
            "Environment",
            e.name,
            Act::GoClick(Route::Environments, row),
        ));
    }
    let memories = api::list_memories(MemoryFilter::default())
        .await
        .unwrap_or_default();
    for m in memories {
        let text: String = m.content.chars().take(90).collect();
        entries.push(entry("Memory", text.clone(), Act::SearchMemory(text)));
    }
    entries
}

/// Whether every word of `query` is in `label` (case aside).
fn matches(label: &str, query: &str) -> bool {
    let label = label.to_lowercase();
    query
        .to_lowercase()
        .split_whitespace()
        .all(|word| label.contains(word))
}

/// The entries shown for `query`: matching ones, actions and views first, at most 40; a
/// query also offers a memory search for itself.
fn shown(all: &[Entry], query: &str) -> Vec<Entry> {
    let mut found: Vec<Entry> = all
        .iter()
        .filter(|e| matches(&e.label, query))
        .take(40)
        .cloned()
        .collect();
    let query = query.trim();
    if !query.is_empty() {
        found.push(entry(
            "Action",
            format!("Search memory for “{query}”"),
            Act::SearchMemory(query.to_string()),
        ));
    }
    found
}

/// Runs `f` on the first element matching `css` once the view shows it (tries for about two
/// seconds: the view it waits for loads its data first).
fn when_shown(css: String, f: impl Fn(web_sys::HtmlElement) + 'static, tries: u32) {
    let found = document()
        .query_selector(&css)
        .ok()
        .flatten()
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok());
    match found {
        Some(element) => f(element),
        None if tries > 0 => {
            set_timeout(
                move || when_shown(css, f, tries - 1),
                std::time::Duration::from_millis(50),
            );
        }
        None => {}
    }
}

fn focus_when_shown(css: &str) {
    when_shown(css.to_string(), |e| drop(e.focus()), 40);
}

/// Types `text` into the Memory view's search (as a person would: an `input` event). Looked
/// up inside that view: the view it replaces may still be on the page for a moment, with a
/// search of its own.
fn search_when_shown(text: String) {
    when_shown(
        "[data-testid=memory] [data-shortcut=search]".into(),
        move |e| {
            if let Some(input) = e.dyn_ref::<web_sys::HtmlInputElement>() {
                input.set_value(&text);
                if let Ok(event) = web_sys::Event::new_with_event_init_dict("input", &{
                    let init = web_sys::EventInit::new();
                    init.set_bubbles(true);
                    init
                }) {
                    let _ = input.dispatch_event(&event);
                }
                let _ = input.focus();
            }
        },
        40,
    );
}

fn act(route: RwSignal<Route>, toasts: crate::toasts::Toasts, act: Act) {
    match act {
        Act::Go(to) => route.set(to),
        Act::GoFocus(to, css) => {
            route.set(to);
            focus_when_shown(css);
        }
        Act::GoClick(to, css) => {
            route.set(to);
            when_shown(css, |e| e.click(), 40);
        }
        Act::GoShow(to, css) => {
            route.set(to);
            when_shown(
                css,
                |e| {
                    e.scroll_into_view();
                    let _ = e.class_list().add_1("found");
                },
                40,
            );
        }
        Act::SearchMemory(text) => {
            route.set(Route::Memory);
            search_when_shown(text);
        }
        Act::SyncNow => {
            leptos::task::spawn_local(async move {
                match api::sync_now().await {
                    Ok(r) => toasts.say(format!(
                        "Synced: pushed {} cells, pulled {}, {} conflicts.",
                        r.pushed_cells, r.pulled_cells, r.conflicts
                    )),
                    Err(e) => toasts.say(format!("Sync now failed: {}", e.message)),
                }
            });
        }
    }
}

/// Whether a key press is typing into a field (shortcuts other than Ctrl+K leave it alone).
pub fn typing(ev: &web_sys::KeyboardEvent) -> bool {
    ev.target()
        .and_then(|t| js_sys::Reflect::get(&t, &"tagName".into()).ok())
        .and_then(|tag| tag.as_string())
        .is_some_and(|tag| matches!(tag.as_str(), "INPUT" | "TEXTAREA" | "SELECT"))
}

/// Installs the shortcuts every view shares, for the life of the app.
pub fn install_shortcuts(route: RwSignal<Route>, overlays: Overlays) {
    // When `g` was pressed (ms since the epoch): a letter within 1.5 s goes to a view.
    let pending_go = StoredValue::new(0.0f64);
    let toasts = use_toasts();
    let handle = window_event_listener(leptos::ev::keydown, move |ev| {
        let key = ev.key();
        if (ev.ctrl_key() || ev.meta_key()) && key.eq_ignore_ascii_case("k") {
            ev.prevent_default();
            overlays.help.set(false);
            overlays.palette.update(|open| *open = !*open);
            return;
        }
        if (ev.ctrl_key() || ev.meta_key())
            && key.eq_ignore_ascii_case("z")
            && !typing(&ev)
            && toasts.undo_newest()
        {
            ev.prevent_default();
            return;
        }
        if key == "Escape" && (overlays.palette.get_untracked() || overlays.help.get_untracked()) {
            overlays.palette.set(false);
            overlays.help.set(false);
            return;
        }
        if typing(&ev)
            || ev.ctrl_key()
            || ev.meta_key()
            || ev.alt_key()
            || overlays.palette.get_untracked()
        {
            return;
        }
        let now = js_sys::Date::now();
        if now - pending_go.get_value() < 1500.0 {
            pending_go.set_value(0.0);
            if let Some((_, to)) = GO_TO.iter().find(|(letter, _)| *letter == key) {
                ev.prevent_default();
                route.set(to.clone());
                return;
            }
        }
        match key.as_str() {
            "?" => overlays.help.update(|open| *open = !*open),
            "g" => pending_go.set_value(now),
            "n" => {
                ev.prevent_default();
                focus_when_shown(".content [data-shortcut=new]");
            }
            "/" => {
                ev.prevent_default();
                focus_when_shown(".content [data-shortcut=search]");
            }
            _ => {}
        }
    });
    on_cleanup(move || handle.remove());
}

#[component]
pub fn Palette(overlays: Overlays) -> impl IntoView {
    let route = crate::views::use_route();
    move || {
        overlays
            .palette
            .get()
            .then(|| view! { <PaletteBox overlays=overlays route=route /> })
    }
}

#[component]
fn PaletteBox(overlays: Overlays, route: RwSignal<Route>) -> impl IntoView {
    let query = RwSignal::new(String::new());
    let selected = RwSignal::new(0usize);
    let loaded = LocalResource::new(records);
    let all = Memo::new(move |_| {
        let mut all = commands();
        if let Some(records) = loaded.get() {
            all.extend(records);
        }
        all
    });
    let entries = Memo::new(move |_| shown(&all.get(), &query.get()));
    let input = NodeRef::<Input>::new();
    let toasts = use_toasts();
    Effect::new(move |_| {
        if let Some(input) = input.get() {
            let _ = input.focus();
        }
    });
    let choose = move |i: usize| {
        if let Some(chosen) = entries.get_untracked().get(i).cloned() {
            overlays.palette.set(false);
            act(route, toasts, chosen.act);
        }
    };
    let keys = move |ev: leptos::ev::KeyboardEvent| {
        let count = entries.get_untracked().len();
        match ev.key().as_str() {
            "ArrowDown" if count > 0 => {
                ev.prevent_default();
                selected.update(|s| *s = (*s + 1) % count);
            }
            "ArrowUp" if count > 0 => {
                ev.prevent_default();
                selected.update(|s| *s = (*s + count - 1) % count);
            }
            "Enter" => {
                ev.prevent_default();
                choose(selected.get_untracked());
            }
            "Escape" => overlays.palette.set(false),
            _ => {}
        }
    };
    view! {
        <div class="overlay-backdrop" data-testid="palette-backdrop"
            on:click=move |_| overlays.palette.set(false)>
            <div class="palette" data-testid="palette" role="dialog" aria-label="Command palette"
                on:click=|ev| ev.stop_propagation()>
                <input class="input palette-input" data-testid="palette-input" node_ref=input
                    placeholder="Go to a view, a task, a run, a schedule or a memory, or run an action"
                    aria-label="Command palette"
                    prop:value=query
                    on:input=move |ev| { query.set(event_target_value(&ev)); selected.set(0); }
                    on:keydown=keys />
                <ul class="palette-list" data-testid="palette-list">
                    {move || entries.get().into_iter().enumerate().map(|(i, e)| view! {
                        <li class="palette-entry" data-testid="palette-entry"
                            class:selected=move || selected.get() == i
                            on:mouseenter=move |_| selected.set(i)
                            on:click=move |_| choose(i)>
                            <span class="palette-kind">{e.kind}</span>
                            <span class="palette-label">{e.label}</span>
                        </li>
                    }).collect_view()}
                </ul>
                {move || entries.get().is_empty().then(|| view! {
                    <p class="muted palette-empty">"Nothing matches."</p>
                })}
            </div>
        </div>
    }
}

#[component]
pub fn ShortcutHelp(overlays: Overlays) -> impl IntoView {
    move || {
        overlays.help.get().then(|| {
            view! {
                <div class="overlay-backdrop" on:click=move |_| overlays.help.set(false)>
                    <div class="palette help" data-testid="shortcut-help" role="dialog"
                        aria-label="Keyboard shortcuts" on:click=|ev| ev.stop_propagation()>
                        <h2>"Keyboard shortcuts"</h2>
                        <table class="table">
                            <tbody>
                                {SHORTCUTS.iter().map(|(keys, what)| view! {
                                    <tr data-testid="shortcut"><td class="mono">{*keys}</td><td>{*what}</td></tr>
                                }).collect_view()}
                                {GO_TO.iter().map(|(letter, to)| view! {
                                    <tr data-testid="shortcut">
                                        <td class="mono">{format!("g {letter}")}</td>
                                        <td>{format!("Go to {}", to.label())}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                </div>
            }
        })
    }
}
