//! nginx from Debian as the load balancer in front of several sync server processes, started
//! on loopback from the deployment's own site file, `docs/deploy/nginx.conf`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The site file the README's deployment section documents.
const SITE: &str = include_str!("../../docs/deploy/nginx.conf");
/// The addresses in [`SITE`] that a test replaces with its own.
const SITE_UPSTREAMS: [&str; 3] = ["127.0.0.1:8787", "127.0.0.1:8788", "127.0.0.1:8789"];
const SITE_LISTEN: &str = "listen 127.0.0.1:8080;";
/// The Debian package that provides it (scripts/setup.sh installs it).
pub const PACKAGE: &str = "nginx";

/// `$FLIGHTDECK_NGINX_BIN`, else `nginx` on `PATH`, else `/usr/sbin/nginx` (Debian's place,
/// often not on a user's `PATH`). `None` when there is none.
pub fn nginx_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("FLIGHTDECK_NGINX_BIN") {
        return Some(PathBuf::from(path));
    }
    let on_path = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain([PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join("nginx"))
        .find(|path| path.is_file())
}

/// A running nginx balancing over some server addresses; stopped on drop.
pub struct Balancer {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    binary: PathBuf,
    dir: tempfile::TempDir,
    process: Child,
}

impl Balancer {
    /// Writes the site file for `upstreams` (exactly three `127.0.0.1:PORT`) and a main
    /// config around it into a temp dir, starts nginx in the foreground and waits until it
    /// answers `/healthz` through an instance.
    pub fn start(binary: &Path, upstreams: &[&str]) -> Balancer {
        assert_eq!(
            upstreams.len(),
            SITE_UPSTREAMS.len(),
            "the site lists three"
        );
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut site = replace_once(SITE, SITE_LISTEN, &format!("listen 127.0.0.1:{port};"));
        for (placeholder, addr) in SITE_UPSTREAMS.iter().zip(upstreams) {
            site = replace_once(
                &site,
                &format!("server {placeholder} "),
                &format!("server {addr} "),
            );
        }
        let root = dir.path();
        std::fs::write(root.join("flightdeck-sync.conf"), site).unwrap();
        // Everything nginx writes goes into the temp dir, so that it runs without root.
        let temp = |name: &str| root.join(name).display().to_string();
        let main = format!(
            "pid {pid};\nerror_log {log} warn;\nworker_processes 1;\n\
             events {{ worker_connections 1024; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {body};\n  proxy_temp_path {proxy};\n\
             fastcgi_temp_path {fastcgi};\n  uwsgi_temp_path {uwsgi};\n  scgi_temp_path {scgi};\n\
             include {site};\n}}\n",
            pid = temp("nginx.pid"),
            log = temp("error.log"),
            body = temp("body"),
            proxy = temp("proxy"),
            fastcgi = temp("fastcgi"),
            uwsgi = temp("uwsgi"),
            scgi = temp("scgi"),
            site = temp("flightdeck-sync.conf"),
        );
        std::fs::write(root.join("nginx.conf"), main).unwrap();
        let process = Command::new(binary)
            .args(nginx_args(root))
            .args(["-g", "daemon off;"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx starts");
        let mut balancer = Balancer {
            url: format!("http://127.0.0.1:{port}"),
            binary: binary.to_path_buf(),
            dir,
            process,
        };
        balancer.wait_until_serving();
        balancer
    }

    fn wait_until_serving(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        let health = format!("{}/healthz", self.url);
        loop {
            if let Some(status) = self.process.try_wait().unwrap() {
                panic!("nginx exited ({status}): {}", self.error_log());
            }
            match ureq::get(&health).timeout(Duration::from_secs(2)).call() {
                Ok(response) if response.status() == 200 => return,
                outcome => assert!(
                    Instant::now() < deadline,
                    "nginx at {health} not serving: {outcome:?}; {}",
                    self.error_log()
                ),
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// nginx's error log so far, for failure messages.
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        // `-s stop` (SIGTERM to the master, which takes its workers down with it); killing
        // the master alone would leave a worker holding the port.
        let _ = Command::new(&self.binary)
            .args(nginx_args(self.dir.path()))
            .args(["-s", "stop"])
            .stderr(Stdio::null())
            .status();
        let _ = self.process.wait();
    }
}

fn nginx_args(root: &Path) -> Vec<String> {
    let path = |name: &str| root.join(name).display().to_string();
    vec![
        "-p".into(),
        path(""),
        "-c".into(),
        path("nginx.conf"),
        // Before reading the config nginx opens its built-in error log; point it here too.
        "-e".into(),
        path("error.log"),
    ]
}

/// `text` with its single occurrence of `from` replaced: the site file and this harness must
/// not drift apart silently.
fn replace_once(text: &str, from: &str, to: &str) -> String {
    assert_eq!(
        text.matches(from).count(),
        1,
        "docs/deploy/nginx.conf should hold `{from}` once"
    );
    text.replacen(from, to, 1)
}

/// A loopback port free right now (bound, then released for nginx to bind).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}
