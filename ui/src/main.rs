//! Flightdeck's UI: mounts [`app::App`] into the page the desktop shell loads.

mod api;
mod app;
mod live;
mod palette;
mod toasts;
mod views;

fn main() {
    // Panics show up in the webview's console instead of as a bare "unreachable".
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}
