//! One module per view, one [`Route`] per screen.
//!
//! Adding a view (Memory, Workflows, ...) takes one module and one route:
//! 1. `pub mod memory;` here, with a `#[component] pub fn MemoryView() -> impl IntoView`;
//! 2. a `Route::Memory` variant, its `label`, a place in `Route::NAV` (if it is in the nav)
//!    and one arm in [`render`].
//!
//! Views read with `LocalResource`s that track the [`crate::live::Live`] version of the
//! tables they show (so engine events refetch them), write with `Action`s, and show form
//! errors beside their field with [`forms::FieldError`].

pub mod confirm;
pub mod environment_delete;
pub mod environments;
pub mod errors;
pub mod format;
pub mod forms;
pub mod insights;
pub mod memory;
mod memory_edit;
pub mod runs;
pub mod schedules;
pub mod search_settings;
pub mod settings;
pub mod sync;
pub mod task_actions;
mod task_board;
pub mod task_context;
pub mod task_detail;
mod task_list;
pub mod task_runs;
pub mod tasks;
pub mod transfer;
pub mod workflows;

use leptos::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    Tasks,
    /// One task, by id.
    Task(String),
    Environments,
    Runs,
    /// One run, by id.
    Run(String),
    Workflows,
    /// One workflow run, by id.
    WorkflowRun(String),
    /// Two runs side by side, by id; true for two plain runs (chosen from Runs).
    Compare(String, String, bool),
    Schedules,
    Errors,
    Insights,
    Memory,
    Sync,
    Settings,
}

impl Route {
    pub const NAV: [Route; 10] = [
        Route::Tasks,
        Route::Environments,
        Route::Runs,
        Route::Workflows,
        Route::Schedules,
        Route::Errors,
        Route::Insights,
        Route::Memory,
        Route::Sync,
        Route::Settings,
    ];

    pub fn label(&self) -> &'static str {
        match self {
            Route::Tasks | Route::Task(_) => "Tasks",
            Route::Environments => "Environments",
            Route::Runs | Route::Run(_) => "Runs",
            Route::Compare(_, _, true) => "Runs",
            Route::Workflows | Route::WorkflowRun(_) | Route::Compare(..) => "Workflows",
            Route::Schedules => "Schedules",
            Route::Errors => "Errors",
            Route::Insights => "Insights",
            Route::Memory => "Memory",
            Route::Sync => "Sync",
            Route::Settings => "Settings",
        }
    }

    /// The nav entry this route is under.
    pub fn section(&self) -> Route {
        match self {
            Route::Task(_) => Route::Tasks,
            Route::Run(_) => Route::Runs,
            Route::Compare(_, _, true) => Route::Runs,
            Route::WorkflowRun(_) | Route::Compare(..) => Route::Workflows,
            other => other.clone(),
        }
    }
}

pub fn render(route: Route) -> AnyView {
    match route {
        Route::Tasks => view! { <tasks::TasksView /> }.into_any(),
        Route::Task(id) => view! { <task_detail::TaskDetailView id=id /> }.into_any(),
        Route::Environments => view! { <environments::EnvironmentsView /> }.into_any(),
        Route::Runs => view! { <runs::RunsView /> }.into_any(),
        Route::Run(id) => view! { <runs::detail::RunDetailView id=id /> }.into_any(),
        Route::Workflows => view! { <workflows::WorkflowsView /> }.into_any(),
        Route::WorkflowRun(id) => view! { <workflows::run::WorkflowRunView id=id /> }.into_any(),
        Route::Compare(a, b, plain) => {
            view! { <workflows::compare::CompareView a=a b=b plain=plain /> }.into_any()
        }
        Route::Schedules => view! { <schedules::SchedulesView /> }.into_any(),
        Route::Errors => view! { <errors::ErrorsView /> }.into_any(),
        Route::Insights => view! { <insights::InsightsView /> }.into_any(),
        Route::Memory => view! { <memory::MemoryView /> }.into_any(),
        Route::Sync => view! { <sync::SyncView /> }.into_any(),
        Route::Settings => view! { <settings::SettingsView /> }.into_any(),
    }
}

pub fn use_route() -> RwSignal<Route> {
    expect_context::<RwSignal<Route>>()
}
