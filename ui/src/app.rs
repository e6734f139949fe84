//! The app frame: header, nav, the current view and a status bar.

use leptos::prelude::*;

use crate::api;
use crate::views::tasks::TasksView;

/// The sections of the nav, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Section {
    Tasks,
    Environments,
    Runs,
    Schedules,
    Errors,
    Sync,
    Settings,
}

impl Section {
    const ALL: [Section; 7] = [
        Section::Tasks,
        Section::Environments,
        Section::Runs,
        Section::Schedules,
        Section::Errors,
        Section::Sync,
        Section::Settings,
    ];

    fn label(self) -> &'static str {
        match self {
            Section::Tasks => "Tasks",
            Section::Environments => "Environments",
            Section::Runs => "Runs",
            Section::Schedules => "Schedules",
            Section::Errors => "Errors",
            Section::Sync => "Sync",
            Section::Settings => "Settings",
        }
    }
}

#[component]
pub fn App() -> impl IntoView {
    let (current, set_current) = signal(Section::Tasks);
    view! {
        <div class="shell" data-testid="app-root">
            <Header />
            <nav class="nav">
                {Section::ALL
                    .into_iter()
                    .map(|section| {
                        view! {
                            <button
                                class="nav-item"
                                class:active=move || current.get() == section
                                on:click=move |_| set_current.set(section)
                            >
                                {section.label()}
                            </button>
                        }
                    })
                    .collect_view()}
            </nav>
            <main class="content">
                <ErrorBoundary fallback=error_list>
                    {move || match current.get() {
                        Section::Tasks => view! { <TasksView /> }.into_any(),
                        other => view! { <NotBuiltYet section=other /> }.into_any(),
                    }}
                </ErrorBoundary>
            </main>
            <StatusBar />
        </div>
    }
}

#[component]
fn Header() -> impl IntoView {
    view! {
        <header class="header">
            <span class="app-name">"Flightdeck"</span>
            <SyncIndicator />
        </header>
    }
}

/// Placeholder until the sync client reports its state: always "offline" for now.
#[component]
fn SyncIndicator() -> impl IntoView {
    view! {
        <span class="sync-indicator offline" title="Sync is not set up yet">
            <span class="dot"></span>
            "Offline"
        </span>
    }
}

/// The app's version and data dir, read from the shell once.
#[component]
fn StatusBar() -> impl IntoView {
    let info = LocalResource::new(api::app_info);
    view! {
        <footer class="status-bar">
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

#[component]
fn NotBuiltYet(section: Section) -> impl IntoView {
    view! {
        <section class="view">
            <h1>{section.label()}</h1>
            <div class="empty-state">
                <p class="empty-title">"Not built yet"</p>
            </div>
        </section>
    }
}

/// What an `ErrorBoundary` shows: each error's message.
fn error_list(errors: ArcRwSignal<Errors>) -> impl IntoView {
    view! {
        <ul class="errors">
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
