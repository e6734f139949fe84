//! The app frame: header with the sync indicator, nav, the current route's view and a status
//! bar. The theme (light, dark or system) is an attribute on the frame; style.css maps it to
//! CSS variables.

use flightdeck_types::{Settings, Theme};
use leptos::prelude::*;

use crate::api;
use crate::live::{provide_live, use_live};
use crate::views::{self, Route};

#[component]
pub fn App() -> impl IntoView {
    let route = RwSignal::new(Route::Tasks);
    provide_context(route);
    provide_live();
    let theme = RwSignal::new(Theme::System);
    provide_context(theme);
    let ready = ReadyMs(RwSignal::new(None), StoredValue::new(false));
    provide_context(ready);
    crate::toasts::provide_toasts();
    let overlays = crate::palette::Overlays {
        palette: RwSignal::new(false),
        help: RwSignal::new(false),
    };
    crate::palette::install_shortcuts(route, overlays);
    // The saved theme, once at start; Settings saves changes.
    leptos::task::spawn_local(async move {
        if let Ok(Settings { theme: saved }) = api::get_settings().await {
            theme.set(saved);
        }
    });
    // The sidebar: folded or not by hand (`Some`), else by the window's width (style.css
    // folds it under NARROW_PX, where it opens as a drawer over the view).
    let nav_open = RwSignal::new(None::<bool>);
    let narrow = || {
        window()
            .inner_width()
            .ok()
            .and_then(|w| w.as_f64())
            .unwrap_or(1200.0)
            < NARROW_PX
    };
    let toggle_nav = Callback::new(move |()| {
        let open = nav_open.get_untracked().unwrap_or_else(|| !narrow());
        nav_open.set(Some(!open));
    });
    view! {
        <div class="shell" data-testid="app-root" data-theme=move || theme.get().as_str()
            class:nav-open=move || nav_open.get() == Some(true)
            class:nav-closed=move || nav_open.get() == Some(false)
            data-ready-ms=move || ready.0.get().map(|ms| ms.to_string())>
            <Header toggle_nav=toggle_nav />
            <nav class="nav">
                {Route::NAV
                    .into_iter()
                    .map(|item| {
                        let testid = format!("nav-{}", item.label().to_lowercase());
                        let target = item.clone();
                        view! {
                            <button
                                class="nav-item"
                                data-testid=testid
                                class:active=move || route.get().section() == item
                                on:click=move |_| {
                                    route.set(target.clone());
                                    // A drawer closes once a view is picked from it.
                                    if narrow() {
                                        nav_open.set(None);
                                    }
                                }
                            >
                                {item.label()}
                                {(item == Route::Errors).then(|| view! { <OpenErrors /> })}
                            </button>
                        }
                    })
                    .collect_view()}
            </nav>
            <main class="content">
                <ErrorBoundary fallback=error_list>
                    {move || views::render(route.get())}
                </ErrorBoundary>
            </main>
            <StatusBar />
            <crate::palette::Palette overlays=overlays />
            <crate::palette::ShortcutHelp overlays=overlays />
            <crate::toasts::ToastStack />
        </div>
    }
}

/// Under this window width the sidebar is folded unless opened by hand (style.css says the
/// same in its `max-width: 959px` rules).
const NARROW_PX: f64 = 960.0;

#[component]
fn Header(toggle_nav: Callback<()>) -> impl IntoView {
    view! {
        <header class="header">
            <span class="header-start">
                <button class="nav-toggle" data-testid="nav-toggle" title="Show or hide the sidebar"
                    aria-label="Show or hide the sidebar" on:click=move |_| toggle_nav.run(())>"☰"</button>
                <span class="app-name">"Flightdeck"</span>
            </span>
            <SyncIndicator />
        </header>
    }
}

/// Online/offline and pending changes, from the shell's `sync-status` events.
#[component]
fn SyncIndicator() -> impl IntoView {
    let live = use_live();
    let route = expect_context::<RwSignal<Route>>();
    let state = move || {
        let info = live.sync.get();
        match info {
            None => ("unknown", "Connecting…".to_string()),
            Some(info) if !info.joined => ("local", "Local only".to_string()),
            Some(info) => {
                let (class, word) = match info.online {
                    Some(true) => ("online", "Online"),
                    Some(false) => ("offline", "Offline"),
                    None => ("unknown", "Connecting…"),
                };
                let text = match info.pending_cells {
                    0 => word.to_string(),
                    n => format!("{word} · {n} pending"),
                };
                (class, text)
            }
        }
    };
    let title = move || {
        live.sync
            .get()
            .and_then(|i| i.last_error)
            .unwrap_or_else(|| "Sync status; open Sync to set it up".into())
    };
    view! {
        <button
            class=move || format!("sync-indicator {}", state().0)
            data-testid="sync-indicator"
            title=title
            on:click=move |_| route.set(Route::Sync)
        >
            <span class="dot"></span>
            {move || state().1}
        </button>
    }
}

/// The app's version and data dir (read from the shell once), and who runs the workspace's
/// runs and schedules (from the live sync status).
#[component]
fn StatusBar() -> impl IntoView {
    let info = LocalResource::new(api::app_info);
    let live = use_live();
    view! {
        <footer class="status-bar">
            <span data-testid="worker-state">
                {move || live.sync.get().map(|info| info.worker.describe())}
            </span>
            <Transition fallback=|| "Connecting to the shell…">
                <ErrorBoundary fallback=error_list>
                    {move || Suspend::new(async move {
                        info.await
                            .map(|info| {
                                view! {
                                    <span>"v" {info.version}</span>
                                    <span class="data-dir" title="Workspace database">
                                        {info.workspace} " · " {info.database}
                                    </span>
                                }
                            })
                    })}
                </ErrorBoundary>
            </Transition>
        </footer>
    }
}

/// What an `ErrorBoundary` shows: each error's message.
pub fn error_list(errors: ArcRwSignal<Errors>) -> impl IntoView {
    view! {
        <ul class="errors" data-testid="error-boundary">
            {move || {
                errors
                    .get()
                    .into_iter()
                    .map(|(_, error)| view! { <li>{error.to_string()}</li> })
                    .collect_view()
            }}
        </ul>
    }
}

/// Launch-to-interactive, once known: milliseconds from the shell's `main` to the first task
/// list on screen (shown as `data-ready-ms` on the frame, for the benchmark).
#[derive(Clone, Copy)]
pub struct ReadyMs(pub RwSignal<Option<u64>>, StoredValue<bool>);

/// Reports the first render of the task list to the shell (once per page).
pub fn report_ready() {
    let ready = expect_context::<ReadyMs>();
    if ready.1.get_value() {
        return;
    }
    ready.1.set_value(true);
    leptos::task::spawn_local(async move {
        if let Ok(ms) = api::app_ready().await {
            ready.0.set(Some(ms));
        }
    });
}

/// The sidebar's count of errors still open (not resolved or ignored), live; nothing at zero.
#[component]
fn OpenErrors() -> impl IntoView {
    use flightdeck_types::{ErrorFilter, RecoveryStatus};
    let live = use_live();
    let open = LocalResource::new(move || {
        live.errors.get();
        async move {
            api::list_errors(ErrorFilter::default())
                .await
                .map(|list| {
                    list.iter()
                        .filter(|r| {
                            !matches!(
                                r.recovery_status,
                                RecoveryStatus::Resolved | RecoveryStatus::Ignored
                            )
                        })
                        .count()
                })
                .unwrap_or(0)
        }
    });
    move || {
        open.get()
            .filter(|n| *n > 0)
            .map(|n| view! { <span class="nav-count" data-testid="nav-errors-count">{n}</span> })
    }
}
