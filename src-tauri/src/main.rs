// Keeps a console window from opening next to the app on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    // WebKitGTK's accelerated compositing buys this list-and-form UI nothing and costs its
    // web process about 100 MB (idle PSS 272 -> 176 MB measured with `--bench app`). Set
    // here, before any thread exists, and only when the user has not chosen (set it to 0 to
    // get compositing back).
    #[cfg(target_os = "linux")]
    if std::env::var_os("WEBKIT_DISABLE_COMPOSITING_MODE").is_none() {
        std::env::set_var("WEBKIT_DISABLE_COMPOSITING_MODE", "1");
        // Without compositing nothing draws through GDK's OpenGL, and GTK would otherwise
        // load GLX (and the Mesa driver behind it) at start-up only to pick visuals.
        if std::env::var_os("GDK_GL").is_none() {
            std::env::set_var("GDK_GL", "disable");
        }
    }
    flightdeck_app_lib::run();
}
