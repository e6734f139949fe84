//! Worktree runs on a 10,000-file repository (BENCHMARKS.md "Agents at work"): git's own
//! `worktree add` and `worktree remove` + `branch -D` (the peer), beside, in the same run,
//! a Flightdeck worktree run of `true` end to end (worktree made, command run, leftovers
//! checked, diff taken, run recorded), the same run without a worktree (the runner's own
//! cost), and `discard` (worktree and branch removed, record written).
//!
//!   cargo bench -p flightdeck-core --bench worktree
//!   (FLIGHTDECK_BENCH_FILES=N and FLIGHTDECK_BENCH_ROUNDS=N change the sizes)

use std::time::{Duration, Instant};

use flightdeck_core::environments;
use flightdeck_core::runs::{self, worktree};
use flightdeck_types::{ExecutionSpec, Isolation, NewEnvironment, NewExecution, ShellSpec};

#[path = "../tests/common/git.rs"]
mod git;
#[path = "../tests/common/runner.rs"]
mod runner;
use git::git;
use runner::Rig;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn report(what: &str, mut times: Vec<f64>) -> f64 {
    times.sort_by(f64::total_cmp);
    let p50 = times[times.len() / 2];
    println!(
        "{what}: p50 {p50:.0} ms (min {:.0}, max {:.0}, {} rounds)",
        times[0],
        times[times.len() - 1],
        times.len()
    );
    p50
}

fn main() {
    let files = env_number("FLIGHTDECK_BENCH_FILES", 10_000);
    let rounds = env_number("FLIGHTDECK_BENCH_ROUNDS", 10);
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    for i in 0..files {
        let sub = repo.join(format!("src/m{:03}", i / 100));
        if i % 100 == 0 {
            std::fs::create_dir_all(&sub).unwrap();
        }
        std::fs::write(
            sub.join(format!("f{i:05}.rs")),
            format!("pub const N: usize = {i};\n"),
        )
        .unwrap();
    }
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-qm", "files"]);
    println!("a repository of {files} files");

    // The peer: git alone.
    let (mut add, mut remove) = (Vec::new(), Vec::new());
    for i in 0..rounds {
        let path = dir.path().join(format!("plain-{i}"));
        let path_text = path.to_string_lossy().into_owned();
        let branch = format!("plain-{i}");
        let t = Instant::now();
        git(
            &repo,
            &[
                "worktree", "add", "--quiet", "-b", &branch, &path_text, "main",
            ],
        );
        add.push(ms(t.elapsed()));
        let t = Instant::now();
        git(&repo, &["worktree", "remove", "--force", &path_text]);
        git(&repo, &["branch", "--quiet", "-D", &branch]);
        remove.push(ms(t.elapsed()));
    }
    let git_add = report("git worktree add", add);
    let git_remove = report("git worktree remove + branch -D", remove);

    // Flightdeck, through the real runner (the executor tests' rig: a store and its runner).
    let rig = Rig::start();
    let store = &rig.store;
    let env = environments::create(
        store,
        NewEnvironment {
            name: "repo".into(),
            repository: Some(repo.display().to_string()),
            ..NewEnvironment::default()
        },
    )
    .unwrap();
    let run_to_end = |isolation: Isolation| {
        let t = Instant::now();
        let run = runs::queue(
            store,
            NewExecution {
                environment_id: Some(env.id.clone()),
                spec: Some(ExecutionSpec::Shell(ShellSpec {
                    line: Some("true".into()),
                    isolation: Some(isolation),
                    ..ShellSpec::default()
                })),
                ..NewExecution::default()
            },
        )
        .unwrap();
        loop {
            let now = runs::get(store, &run.id).unwrap();
            if now.status.is_final() {
                assert!(now.error.is_none(), "{:?}", now.error);
                return (run.id, ms(t.elapsed()));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    };
    let (mut shared, mut isolated, mut discard) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        shared.push(run_to_end(Isolation::Shared).1);
        let (id, took) = run_to_end(Isolation::Worktree);
        isolated.push(took);
        let t = Instant::now();
        worktree::discard(store, &id).unwrap();
        discard.push(ms(t.elapsed()));
    }
    let shared = report(
        "Flightdeck run of `true`, shared (the runner alone)",
        shared,
    );
    let isolated = report(
        "Flightdeck run of `true` in a new worktree, end to end",
        isolated,
    );
    let discard = report(
        "Flightdeck discard (worktree and branch removed, recorded)",
        discard,
    );
    println!(
        "worktree run overhead {:.0} ms = {:.2}x git worktree add; discard {:.2}x git's remove",
        isolated - shared,
        (isolated - shared) / git_add,
        discard / git_remove
    );
    drop(rig); // stops the runner after the runs in flight
}
