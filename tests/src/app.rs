//! The real desktop app under test: `tauri-driver` (with WebKitWebDriver) under its own
//! `xvfb-run` display, a WebDriver session on the app binary, and a clean kill afterwards.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::poll;
use crate::webdriver::Session;

pub struct App {
    driver: Child,
    session: Option<Session>,
    // Released last (after Drop killed the app): the app is single-instance per user session,
    // so a second app launched meanwhile would hand over to this one and exit.
    _one_at_a_time: MutexGuard<'static, ()>,
}

static ONE_APP: Mutex<()> = Mutex::new(());

/// The debug app binary: `$FLIGHTDECK_APP_BIN`, else `<target dir>/debug/flightdeck-app`.
pub fn app_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("FLIGHTDECK_APP_BIN") {
        return PathBuf::from(path);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("debug/flightdeck-app")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl App {
    /// Launches the app with `FLIGHTDECK_DATA_DIR=data_dir` and waits until its window has
    /// loaded the UI.
    pub fn launch(data_dir: &Path) -> App {
        Self::launch_timed(data_dir).0
    }

    /// Like [`App::launch`], also returning the time from spawning tauri-driver to the
    /// `ready` selector being on screen.
    pub fn launch_until(data_dir: &Path, ready: &str) -> (App, Duration) {
        let (app, started) = Self::launch_timed(data_dir);
        let ui = app.session();
        poll::until("the ready selector", Duration::from_secs(30), || {
            Ok((!ui.find_all(ready)?.is_empty()).then_some(()))
        });
        let elapsed = started.elapsed();
        (app, elapsed)
    }

    fn launch_timed(data_dir: &Path) -> (App, Instant) {
        let one_at_a_time = ONE_APP.lock().unwrap_or_else(|p| p.into_inner());
        let binary = app_binary();
        assert!(
            binary.is_file(),
            "no app binary at {}; build it first with `cargo build -p flightdeck-app` \
             (scripts/test.sh does)",
            binary.display()
        );
        let (port, native_port) = (free_port(), free_port());
        let mut command = Command::new("xvfb-run");
        command
            .args(["-a", "-s", "-screen 0 1280x1024x24", "tauri-driver"])
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native_port.to_string(),
            ])
            .args(["--native-driver", "/usr/bin/WebKitWebDriver"])
            .env("FLIGHTDECK_DATA_DIR", data_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let started = Instant::now();
        let driver = command
            .spawn()
            .expect("xvfb-run and tauri-driver are installed (scripts/setup.sh installs them)");
        let mut app = App {
            driver,
            session: None,
            _one_at_a_time: one_at_a_time,
        };

        let base = format!("http://127.0.0.1:{port}");
        poll::until(
            "tauri-driver to answer",
            Duration::from_secs(30),
            || match ureq::get(&format!("{base}/status")).call() {
                Ok(_) => Ok(Some(())),
                Err(e) => Err(e.to_string()),
            },
        );
        let capabilities = json!({
            "browserName": "wry",
            "tauri:options": { "application": binary },
        });
        let session = Session::start(&base, capabilities).expect("a WebDriver session on the app");
        poll::until("the UI to mount", Duration::from_secs(30), || {
            Ok((!session.find_all("[data-testid=app-root]")?.is_empty()).then_some(()))
        });
        app.session = Some(session);
        (app, started)
    }

    /// The pid of the app process (a child of WebKitWebDriver, in the driver's process group).
    pub fn driver_pid(&self) -> u32 {
        self.driver.id()
    }

    pub fn session(&self) -> &Session {
        self.session.as_ref().expect("launched")
    }
}

impl Drop for App {
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            let _ = session.end();
        }
        // xvfb-run, Xvfb, tauri-driver, WebKitWebDriver and the app share one process group.
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let _ = self.driver.wait();
    }
}
