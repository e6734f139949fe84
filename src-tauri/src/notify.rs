//! Desktop notifications: the one door for telling the person something happened while they
//! look elsewhere (escalated errors, finished runs, sync conflicts). A desktop without a
//! notification service only loses the notification, never the app.

use tauri::AppHandle;
use tauri_plugin_notification::NotificationExt;

pub fn notify(app: &AppHandle, title: &str, body: &str) {
    if let Err(e) = app.notification().builder().title(title).body(body).show() {
        tracing::warn!(error = %e, title, "could not show a notification");
    }
}
