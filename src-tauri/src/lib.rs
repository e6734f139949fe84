//! The Flightdeck desktop shell: a Tauri window around the `ui` crate, with thin commands
//! over the engine, engine events forwarded to the UI, the workspace's worker (runner,
//! scheduler, sync) in the background, a tray icon and desktop notifications.

mod commands;
mod error;
mod events;
mod heap;
pub mod notify;
mod state;
mod sync;
mod tray;
mod worker;

use tauri::Manager;

use crate::state::AppState;

/// Brings the main window to the front (a second launch, or the tray's "Show").
fn focus_main_window(app: &tauri::AppHandle) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
}

/// Builds and runs the app; returns when the last window closes.
pub fn run() {
    let started = std::time::Instant::now();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    // OpenTelemetry export when OTEL_EXPORTER_OTLP_ENDPOINT is set (batches go out every few
    // seconds from the exporter's own thread).
    let _telemetry = flightdeck_core::telemetry::init_from_env();
    tauri::Builder::default()
        // First: a second launch hands over to the running app and exits before doing more.
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
            focus_main_window(app)
        }))
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_dialog::init())
        .manage(AppState::open(started))
        .setup(|app| {
            let handle = app.handle();
            events::forward_store_changes(handle);
            tray::install(handle);
            // Runs, schedules and sync, under the workspace's worker lock; it falls back to
            // sync alone when `flightdeck daemon` holds the lock.
            worker::start(handle);
            sync::report(handle);
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::app::app_info,
            commands::app::app_ready,
            commands::app::get_settings,
            commands::app::save_settings,
            commands::tasks::list_tasks,
            commands::tasks::get_task,
            commands::tasks::create_task,
            commands::tasks::update_task,
            commands::tasks::archive_task,
            commands::tasks::delete_task,
            commands::environments::list_environments,
            commands::environments::create_environment,
            commands::environments::update_environment,
            commands::environments::delete_environment,
            commands::environments::set_env_secret,
            commands::environments::env_secret_status,
            commands::sync::sync_status,
            commands::sync::join_sync,
            commands::sync::sync_now,
            commands::sync::leave_sync,
            commands::sync::list_conflicts,
            commands::sync::restore_conflict,
            commands::sync::list_devices,
            commands::sync::set_device_trust,
            commands::runs::list_runs,
            commands::runs::get_run,
            commands::runs::run_events,
            commands::runs::start_run,
            commands::runs::cancel_run,
            commands::runs::rerun,
            commands::runs::fork_run,
            commands::runs::run_forks,
            commands::runs::run_diff,
            commands::runs::merge_run,
            commands::runs::discard_run,
            commands::runs::rerun_in_worktree,
            commands::runs::open_worktree,
            commands::schedules::list_schedules,
            commands::schedules::add_schedule,
            commands::schedules::update_schedule,
            commands::schedules::pause_schedule,
            commands::schedules::resume_schedule,
            commands::schedules::trigger_schedule,
            commands::schedules::delete_schedule,
            commands::schedules::preview_schedule,
            commands::errors::list_errors,
            commands::insights::insights,
            commands::insights::insight_failures,
            commands::insights::insight_bottlenecks,
            commands::insights::health,
            commands::errors::retry_error,
            commands::errors::resolve_error,
            commands::errors::ignore_error,
            commands::errors::escalate_error,
            commands::memory::search_memories,
            commands::memory::list_memories,
            commands::memory::add_memory,
            commands::memory::update_memory,
            commands::memory::archive_memory,
            commands::memory::unarchive_memory,
            commands::memory::task_context,
            commands::memory::memory_floor,
            commands::memory::set_memory_floor,
            commands::workflows::list_workflows,
            commands::workflows::start_workflow,
            commands::workflows::list_workflow_runs,
            commands::workflows::workflow_run_detail,
            commands::workflows::pause_workflow_run,
            commands::workflows::resume_workflow_run,
            commands::workflows::cancel_workflow_run,
            commands::workflows::adopt_workflow_run,
            commands::workflows::approve_workflow_step,
            commands::workflows::reject_workflow_step,
            commands::workflows::rerun_workflow_from,
            commands::workflows::fork_workflow_run,
            commands::workflows::compare_runs,
            commands::workflows::replay_run,
            commands::transfer::preview_import,
            commands::transfer::run_import,
            commands::transfer::run_export,
            commands::transfer::default_export_path,
            commands::transfer::choose_file,
        ])
        // Generated by build.rs from the workspace-root tauri.conf.json.
        .build(tauri::tauri_build_context!())
        .expect("error while building the Flightdeck app")
        .run(|app, event| {
            if let tauri::RunEvent::Exit = event {
                let state = app.state::<AppState>();
                let worker = state
                    .worker
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .take();
                if let Some(worker) = worker {
                    worker.stop(std::time::Duration::from_secs(3));
                }
            }
        });
}
