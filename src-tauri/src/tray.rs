//! The tray icon: sync status in its tooltip and menu, and a way to bring the window back
//! or quit. Where there is no tray (a bare X server in tests), the app runs without one.

use flightdeck_types::SyncInfo;
use tauri::menu::{Menu, MenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager, Wry};

const TRAY_ID: &str = "main";

/// The menu line that shows the sync status, kept to update its text.
pub struct TrayStatus(MenuItem<Wry>);

pub fn install(app: &AppHandle) {
    if let Err(e) = try_install(app) {
        tracing::warn!(error = %e, "no tray icon");
    }
}

fn try_install(app: &AppHandle) -> tauri::Result<()> {
    let status = MenuItem::with_id(app, "status", "Sync: not set up", false, None::<&str>)?;
    let show = MenuItem::with_id(app, "show", "Show Flightdeck", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
    let menu = Menu::with_items(app, &[&status, &show, &quit])?;
    let mut builder = TrayIconBuilder::with_id(TRAY_ID)
        .tooltip("Flightdeck")
        .menu(&menu)
        .on_menu_event(|app, event| match event.id().as_ref() {
            "show" => crate::focus_main_window(app),
            "quit" => app.exit(0),
            _ => {}
        });
    if let Some(icon) = app.default_window_icon() {
        builder = builder.icon(icon.clone());
    }
    builder.build(app)?;
    app.manage(TrayStatus(status));
    Ok(())
}

pub fn status_line(info: &SyncInfo) -> String {
    if !info.joined {
        return "Sync: not set up".into();
    }
    let state = match info.online {
        Some(true) => "online",
        Some(false) => "offline",
        None => "connecting",
    };
    match info.pending_cells {
        0 => format!("Sync: {state}"),
        n => format!("Sync: {state}, {n} changes pending"),
    }
}

pub fn show_status(app: &AppHandle, info: &SyncInfo) {
    let line = status_line(info);
    if let Some(status) = app.try_state::<TrayStatus>() {
        let _ = status.0.set_text(&line);
    }
    if let Some(tray) = app.tray_by_id(TRAY_ID) {
        let runner = info.worker.describe();
        let _ = tray.set_tooltip(Some(format!("Flightdeck — {line}\n{runner}")));
    }
}
