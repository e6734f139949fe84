//! Desktop app figures (harness = false), on the debug app binary under Xvfb:
//! - launch to interactive: from the shell's `main` to the first task list on screen (the UI
//!   reports it as `data-ready-ms`), and from spawning tauri-driver to the same point;
//! - idle memory after 5 s idle, of the app process and of its WebKit children: RSS (every
//!   page mapped), PSS (shared pages split among the processes that map them) and USS (pages
//!   only this process maps).
//!
//!   scripts/with-keyring.sh cargo bench -p flightdeck-tests --bench app
//!   scripts/with-keyring.sh cargo bench -p flightdeck-tests --bench app -- screenshots ../docs
//!
//! The second form starts a real sync server (throwaway Postgres), seeds a workspace and
//! saves screenshots of the board, environments, sync, memory, an agent run's diff (real git)
//! and the dark theme into `docs`, then the board at 800x600 and 1920x1080 in both themes.

use std::path::Path;
use std::time::Duration;

use flightdeck_core::{environments, memory};
use flightdeck_core::{tasks, Store};
use flightdeck_tests::app::App;
use flightdeck_tests::poll;
use flightdeck_types::{NewEnvironment, NewMemory, NewTask, Priority, TaskStatus};

const LAUNCHES: usize = 5;
const SEEDED_TASKS: usize = 50;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(at) = args.iter().position(|a| a == "screenshots") {
        let dir = args.get(at + 1).map(String::as_str).unwrap_or("docs");
        screenshots(Path::new(dir));
        return;
    }
    let data = tempfile::tempdir().unwrap();
    seed(data.path());
    let mut main_to_ready = Vec::new();
    let mut spawn_to_ready = Vec::new();
    let mut memory = Vec::new();
    for run in 0..LAUNCHES {
        let (app, spawn) = App::launch_until(data.path(), "[data-testid=task-card]");
        let ui = app.session();
        let ms: u64 = poll::until("data-ready-ms", Duration::from_secs(10), || {
            let root = ui.find("[data-testid=app-root]")?;
            Ok(ui
                .attribute(&root, "data-ready-ms")?
                .and_then(|v| v.parse().ok()))
        });
        main_to_ready.push(ms as f64);
        spawn_to_ready.push(spawn.as_secs_f64() * 1000.0);
        if run == 0 {
            // Idle: nothing to do for the app but keep its window and sync loop.
            std::thread::sleep(Duration::from_secs(5));
            memory = app_memory(app.driver_pid());
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "launch to interactive ({SEEDED_TASKS} tasks, {LAUNCHES} launches): main -> task list \
         median {:.0} ms (max {:.0}); tauri-driver spawn -> task list median {:.0} ms",
        median(&mut main_to_ready.clone()),
        main_to_ready.iter().cloned().fold(0.0, f64::max),
        median(&mut spawn_to_ready),
    );
    let (rss, pss): (u64, u64) = memory
        .iter()
        .map(|p| (p.rss_kb, p.pss_kb))
        .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    for p in &memory {
        println!(
            "  {:<24} RSS {:>7.1} MB  PSS {:>7.1} MB  USS {:>7.1} MB",
            p.name,
            p.rss_kb as f64 / 1024.0,
            p.pss_kb as f64 / 1024.0,
            p.uss_kb as f64 / 1024.0
        );
    }
    println!(
        "idle memory (app + WebKit children): RSS {:.1} MB, PSS {:.1} MB",
        rss as f64 / 1024.0,
        pss as f64 / 1024.0
    );
}

fn seed(dir: &Path) {
    let store = Store::open_workspace(Some(dir), "default").unwrap();
    for i in 0..SEEDED_TASKS {
        tasks::create(
            &store,
            NewTask {
                title: format!("Seeded task {i}"),
                status: Some(TaskStatus::ALL[i % TaskStatus::ALL.len()]),
                ..Default::default()
            },
        )
        .unwrap();
    }
}

struct ProcMemory {
    name: String,
    rss_kb: u64,
    pss_kb: u64,
    uss_kb: u64,
}

/// The app and its WebKit processes: every process descended from `root` whose name is
/// the app's or WebKit's (not Xvfb, tauri-driver or WebKitWebDriver).
fn app_memory(root: u32) -> Vec<ProcMemory> {
    let mut parents = std::collections::HashMap::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // `pid (comm) state ppid ...`; comm may hold spaces, so split after the last ')'.
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let name = head
            .split_once('(')
            .map(|(_, n)| n.to_string())
            .unwrap_or_default();
        let ppid: u32 = rest
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        parents.insert(pid, (ppid, name));
    }
    let descends = |mut pid: u32| {
        while let Some((ppid, _)) = parents.get(&pid) {
            if *ppid == root {
                return true;
            }
            pid = *ppid;
        }
        false
    };
    parents
        .iter()
        .filter(|(pid, (_, name))| {
            descends(**pid)
                && (name.starts_with("flightdeck-app")
                    || (name.starts_with("WebKit") && name != "WebKitWebDriver"))
        })
        .map(|(pid, (_, name))| {
            let field = |file: &str, key: &str| -> u64 {
                std::fs::read_to_string(format!("/proc/{pid}/{file}"))
                    .unwrap_or_default()
                    .lines()
                    .find_map(|l| l.strip_prefix(key))
                    .and_then(|v| v.split_whitespace().next().and_then(|n| n.parse().ok()))
                    .unwrap_or(0)
            };
            ProcMemory {
                name: name.clone(),
                rss_kb: field("status", "VmRSS:"),
                pss_kb: field("smaps_rollup", "Pss:"),
                uss_kb: field("smaps_rollup", "Private_Clean:")
                    + field("smaps_rollup", "Private_Dirty:"),
            }
        })
        .collect()
}

fn screenshots(dir: &Path) {
    use flightdeck_core::sync::account;
    use flightdeck_tests::sync_rig::{keyring, server_binary, Server};

    std::fs::create_dir_all(dir).unwrap();
    // WebKitWebDriver's screenshot never answers while accelerated compositing is off (the
    // app's default); "0" keeps it on for this app, which inherits the variable.
    std::env::set_var("WEBKIT_DISABLE_COMPOSITING_MODE", "0");
    let rt = flightdeck_tests::runtime();
    let server = rt.block_on(Server::start(server_binary("debug")));
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    {
        let store = Store::open_workspace(Some(data.path()), "default").unwrap();
        let samples = [
            ("Fix the flaky login test", TaskStatus::Todo, Priority::High),
            ("Write the release notes", TaskStatus::Todo, Priority::Low),
            (
                "Migrate billing to the new API",
                TaskStatus::InProgress,
                Priority::Urgent,
            ),
            (
                "Review the agent's refactor PR",
                TaskStatus::InProgress,
                Priority::Medium,
            ),
            (
                "Upgrade Postgres on staging",
                TaskStatus::Blocked,
                Priority::High,
            ),
            (
                "Nightly dependency audit",
                TaskStatus::Done,
                Priority::Medium,
            ),
            ("Add dark theme", TaskStatus::Done, Priority::Low),
        ];
        for (title, status, priority) in samples {
            tasks::create(
                &store,
                NewTask {
                    title: title.into(),
                    status: Some(status),
                    priority: Some(priority),
                    ..Default::default()
                },
            )
            .unwrap();
        }
        environments::create(
            &store,
            NewEnvironment {
                name: "backend".into(),
                working_dir: Some("~/src/backend".into()),
                env_vars: [("RUST_LOG".to_string(), "info".to_string())].into(),
                agent_command: Some("claude -p {prompt}".into()),
                ..Default::default()
            },
        )
        .unwrap();
        environments::set_secret(&store, &keyring(), "backend", "OPENAI_API_KEY", "sk-demo")
            .unwrap();
        let model =
            memory::embed::shared_default().expect("the embedding model (scripts/setup.sh)");
        for (content, kind) in [
            (
                "The staging database is wiped and reloaded every night at 02:00 UTC",
                "fact",
            ),
            (
                "Run the billing migrations with --dry-run first; they lock the ledger",
                "lesson",
            ),
            (
                "Release the web frontend with the blue-green deploy script",
                "note",
            ),
            (
                "The flaky login test fails when the clock crosses midnight",
                "lesson",
            ),
        ] {
            let input = NewMemory {
                content: content.into(),
                kind: Some(kind.into()),
                ..Default::default()
            };
            memory::add(&store, Some(model), input).unwrap();
        }
        seed_worktree_run(&store, work.path());
        rt.block_on(account::join(
            &store,
            &keyring(),
            &server.url,
            &server.join_token,
        ))
        .unwrap();
    }
    let (app, _) = App::launch_until(data.path(), "[data-testid=task-card]");
    let ui = app.session();
    let shot = |name: &str| {
        let png = ui.screenshot().unwrap();
        std::fs::write(dir.join(name), png).unwrap();
        println!("wrote {}", dir.join(name).display());
    };
    let click = |css: &str| ui.click(&ui.find(css).unwrap()).unwrap();
    let wait = |css: &str| {
        poll::until(css, Duration::from_secs(20), || {
            Ok((!ui.find_all(css)?.is_empty()).then_some(()))
        })
    };
    poll::until("online", Duration::from_secs(20), || {
        Ok(ui
            .texts("[data-testid=sync-indicator]")?
            .iter()
            .any(|t| t.starts_with("Online"))
            .then_some(()))
    });
    shot("screenshot-board.png");
    click("[data-testid=nav-environments]");
    wait("[data-testid=env-row]");
    click("[data-testid=env-row]");
    wait("[data-testid=secret-var]");
    shot("screenshot-environments.png");
    click("[data-testid=nav-sync]");
    wait("[data-testid=sync-status]");
    shot("screenshot-sync.png");
    click("[data-testid=nav-memory]");
    wait("[data-testid=memory-row]");
    let search = ui.find("[data-testid=memory-search]").unwrap();
    ui.type_text(
        &search,
        "when is the test data of the pre-production DB erased",
    )
    .unwrap();
    wait("[data-testid=memory-signals]");
    shot("screenshot-memory.png");
    click("[data-testid=nav-runs]");
    wait("[data-testid=run-row][data-status=succeeded]");
    click("[data-testid=run-row][data-status=succeeded] [data-testid=run-what]");
    wait("[data-testid=diff-line]");
    shot("screenshot-diff.png");
    click("[data-testid=nav-settings]");
    wait("[data-testid=theme-dark]");
    click("[data-testid=theme-dark]");
    click("[data-testid=nav-tasks]");
    wait("[data-testid=task-card]");
    shot("screenshot-dark.png");
    // The smallest window the app is made for and a large one, in both themes (issue 21,
    // item 6). On the small one the sidebar is folded: the ☰ button opens it as a drawer.
    let go = |nav: &str| {
        let item = format!("[data-testid=nav-{nav}]");
        let shown = format!(
            "const r = document.querySelector('{item}').getBoundingClientRect(); \
             return r.width > 0;"
        );
        if !ui.execute(&shown).unwrap().as_bool().unwrap_or(false) {
            click("[data-testid=nav-toggle]");
        }
        click(&item);
    };
    for (width, height) in [(800, 600), (1920, 1080)] {
        ui.set_window_size(width, height).unwrap();
        for theme in ["light", "dark"] {
            go("settings");
            wait(&format!("[data-testid=theme-{theme}]"));
            click(&format!("[data-testid=theme-{theme}]"));
            go("tasks");
            wait("[data-testid=task-card]");
            shot(&format!("screenshot-{width}x{height}-{theme}.png"));
        }
    }
}

fn git(dir: &Path, args: &[&str]) {
    let status = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=Dana", "-c", "user.email=dana@example.com"])
        .args(args)
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?}");
}

/// A repository with a login module, and an agent run queued on it that fixes the module and
/// adds a test (the app's worker runs it in its own worktree).
fn seed_worktree_run(store: &Store, work: &Path) {
    let repo = work.join("web");
    std::fs::create_dir_all(repo.join("src")).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    let before = "use crate::session::Session;\n\n/// Logs a user in.\npub fn login(session: &Session) -> bool {\n    session.user().is_some()\n}\n";
    std::fs::write(repo.join("src/login.rs"), before).unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-qm", "Login"]);
    let agent = work.join("agent.sh");
    std::fs::write(
        &agent,
        r#"cat > src/login.rs <<'RS'
use crate::session::Session;

/// Logs a user in; an expired session counts as logged out.
pub fn login(session: &Session) -> bool {
    // The clock may cross midnight between two checks: read it once.
    let now = session.clock().now();
    session.user().is_some() && session.expires_at() > now
}
RS
mkdir -p tests
cat > tests/login.rs <<'RS'
#[test]
fn an_expired_session_is_logged_out() {
    let session = Session::expired_at(1_700_000_000);
    assert!(!login(&session));
}
RS
"#,
    )
    .unwrap();
    let env = environments::create(
        store,
        NewEnvironment {
            name: "web".into(),
            repository: Some(repo.display().to_string()),
            agent_command: Some(format!("sh {} {{prompt}}", agent.display())),
            ..Default::default()
        },
    )
    .unwrap();
    let task = tasks::create(
        store,
        NewTask {
            title: "Handle an expired session on login".into(),
            status: Some(TaskStatus::InProgress),
            priority: Some(Priority::High),
            environment: Some(env.id),
            ..Default::default()
        },
    )
    .unwrap();
    flightdeck_core::runs::start_for_task(
        store,
        &flightdeck_types::StartRun {
            task_id: task.id,
            shell: None,
            timeout_secs: Some(60),
        },
    )
    .unwrap();
}
