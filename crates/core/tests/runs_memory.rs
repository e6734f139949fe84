//! Runs record what the agent learned: `memory:` lines of a shell run's output and the JSON
//! lines of the file named by `$FLIGHTDECK_MEMORY_FILE` become memories linked to the run,
//! through the real runner with real child processes, and are then found by meaning with the
//! real model. Run under scripts/with-keyring.sh (the runner holds the OS keyring).

#[path = "runs_memory/agent_context.rs"]
mod agent_context;
#[path = "common/runner.rs"]
mod runner;

use flightdeck_core::{memory, runs, tasks, Store};
use flightdeck_types::{
    Execution, ExecutionSpec, ExecutionStatus, MemoryFilter, MemoryScope, NewExecution, NewTask,
    SearchMode, ShellSpec,
};
use runner::{until, Rig};

fn queue_for_task(rig: &Rig, task_id: &str, line: &str) -> Execution {
    rig.queue_new(NewExecution {
        task_id: Some(task_id.to_string()),
        spec: Some(ExecutionSpec::Shell(ShellSpec {
            line: Some(line.into()),
            ..ShellSpec::default()
        })),
        ..NewExecution::default()
    })
}

fn memories_of(store: &Store, run_id: &str) -> Vec<flightdeck_types::Memory> {
    let all = MemoryFilter {
        include_archived: true,
        ..Default::default()
    };
    let mut found: Vec<_> = memory::list(store, &all, 1000)
        .unwrap()
        .into_iter()
        .filter(|m| m.source_execution_id.as_deref() == Some(run_id))
        .collect();
    found.sort_by(|a, b| a.content.cmp(&b.content));
    found
}

#[test]
fn output_lines_and_the_memory_file_become_memories_of_the_run() {
    let rig = Rig::start();
    let task = tasks::create(
        &rig.store,
        NewTask {
            title: "Rotate the staging credentials".into(),
            ..Default::default()
        },
    )
    .unwrap();
    let script = r#"
        echo 'compiling...'
        echo 'memory: the staging database password rotates every 90 days'
        echo '   memory:   ' >&2
        printf '%s\n' \
            '{"content": "deploys need a green CI run first", "kind": "lesson", "importance": 0.9}' \
            'not json' >> "$FLIGHTDECK_MEMORY_FILE"
        echo "file=$FLIGHTDECK_MEMORY_FILE"
    "#;
    let run = queue_for_task(&rig, &task.id, script);
    let run = rig.final_state(&run.id);
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{:?}", run.error);

    let found = memories_of(&rig.store, &run.id);
    let contents: Vec<&str> = found.iter().map(|m| m.content.as_str()).collect();
    assert_eq!(
        contents,
        [
            "deploys need a green CI run first",
            "the staging database password rotates every 90 days"
        ]
    );
    assert!(found.iter().all(|m| m.scope == MemoryScope::task(&task.id)));
    assert_eq!(found[0].kind, "lesson");
    assert_eq!(found[0].importance, 0.9);
    assert_eq!(found[1].kind, "note");

    // The run's result lists what it recorded and what it could not.
    let summary = &run.result.as_ref().unwrap()["memories"];
    let recorded: Vec<&str> = summary["recorded"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(recorded.len(), 2);
    assert!(found.iter().all(|m| recorded.contains(&m.id.as_str())));
    let errors: Vec<&str> = summary["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors[0].contains("content"),
        "the empty memory line: {errors:?}"
    );
    assert!(
        errors[1].contains("FLIGHTDECK_MEMORY_FILE line 2"),
        "the bad file line: {errors:?}"
    );

    // The file was beside the database, and is gone once read.
    let out = rig.output(&run.id);
    let file = out
        .iter()
        .find_map(|(_, line)| line.strip_prefix("file="))
        .expect("the run saw $FLIGHTDECK_MEMORY_FILE");
    let db_dir = rig.store.path().parent().unwrap();
    assert_eq!(
        std::path::Path::new(file),
        db_dir.join("run-memory").join(format!("{}.jsonl", run.id))
    );
    assert!(!std::path::Path::new(file).exists());

    // Vectors follow the run's end: the memory is the nearest by meaning, sharing no word.
    let nearest = until("the run's memories to be found by meaning", || {
        let e = memory::embed::shared_default().expect("the model is installed");
        let found = memory::search(
            &rig.store,
            Some(e),
            "how often are the test DB credentials changed",
            &MemoryFilter::default(),
            2,
        )
        .unwrap();
        (found.mode == SearchMode::Hybrid)
            .then(|| found.hits.into_iter().find(|h| h.vector_rank == Some(1)))
            .flatten()
    });
    assert_eq!(
        nearest.memory.content,
        "the staging database password rotates every 90 days"
    );
    assert_eq!(nearest.keyword_rank, None);
}

#[test]
fn each_run_gets_its_own_fresh_file_and_keeps_memories_past_the_output_cap() {
    let rig = Rig::start();
    // Over a megabyte of output first: the stored log is cut, the memory line still counts.
    // (fold leaves the last line without its newline: the echo ends it.)
    let long = "head -c 1100000 /dev/zero | tr '\\0' x | fold -w 1000; echo; \
                echo 'memory: learned after a long log'; \
                test ! -e \"$FLIGHTDECK_MEMORY_FILE\" && echo fresh; \
                echo '{\"content\": \"from the first run\"}' > \"$FLIGHTDECK_MEMORY_FILE\"; \
                echo \"file=$FLIGHTDECK_MEMORY_FILE\"";
    let first = rig.queue(long, Some(60));
    let second = rig.queue(
        "test ! -e \"$FLIGHTDECK_MEMORY_FILE\" && echo fresh; echo \"file=$FLIGHTDECK_MEMORY_FILE\"",
        None,
    );
    let first = rig.final_state(&first.id);
    let second = rig.final_state(&second.id);
    assert_eq!(
        first.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        first.error
    );
    assert_eq!(
        second.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        second.error
    );
    assert_eq!(first.result.as_ref().unwrap()["truncated"], true);

    let first_memories = memories_of(&rig.store, &first.id);
    let contents: Vec<&str> = first_memories.iter().map(|m| m.content.as_str()).collect();
    assert_eq!(contents, ["from the first run", "learned after a long log"]);
    assert!(
        first_memories
            .iter()
            .all(|m| m.scope == MemoryScope::global()),
        "a run without a task records global memories"
    );
    assert!(memories_of(&rig.store, &second.id).is_empty());
    assert!(
        second.result.as_ref().unwrap().get("memories").is_none(),
        "a run that recorded nothing says nothing about memories"
    );

    // The second run's output was not cut: its file is its own, and did not exist yet.
    let second_out = rig.output(&second.id);
    assert!(
        second_out.iter().any(|(_, l)| l == "fresh"),
        "{second_out:?}"
    );
    let path = |out: &[(String, String)]| {
        out.iter()
            .find_map(|(_, l)| l.strip_prefix("file=").map(str::to_string))
    };
    let second_file = path(&second_out).unwrap();
    assert!(second_file.ends_with(&format!("{}.jsonl", second.id)));
    assert!(!second_file.contains(&first.id));
}

#[test]
fn a_run_whose_process_died_keeps_what_it_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("flightdeck.db")).unwrap();
    // A run left `running` by a runner that died, with output stored and a file written.
    let run = runs::queue(
        &store,
        NewExecution {
            spec: Some(ExecutionSpec::Shell(ShellSpec {
                line: Some("long job".into()),
                ..ShellSpec::default()
            })),
            ..NewExecution::default()
        },
    )
    .unwrap();
    store
        .write(|w| {
            w.execute(
                "UPDATE executions SET status = 'running', started_at = 1 WHERE id = ?1",
                [&run.id],
            )?;
            for (seq, kind, data) in [
                (1, "status", "running"),
                (2, "stdout", "step one"),
                (
                    3,
                    "stderr",
                    "memory: the cache must be warmed before the load test",
                ),
            ] {
                w.execute(
                    "INSERT INTO execution_events (execution_id, seq, at, kind, data)
                     VALUES (?1, ?2, 1, ?3, ?4)",
                    rusqlite::params![run.id, seq, kind, data],
                )?;
            }
            Ok(())
        })
        .unwrap();
    let file = dir
        .path()
        .join("run-memory")
        .join(format!("{}.jsonl", run.id));
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, "{\"content\": \"the load test needs 20 minutes\"}\n").unwrap();

    let ended = runs::recover_interrupted(
        &store,
        &flightdeck_core::secrets::OsKeyring::from_env().unwrap(),
    )
    .unwrap();
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].status, ExecutionStatus::Interrupted);
    let contents: Vec<String> = memories_of(&store, &run.id)
        .into_iter()
        .map(|m| m.content)
        .collect();
    assert_eq!(
        contents,
        [
            "the cache must be warmed before the load test",
            "the load test needs 20 minutes"
        ]
    );
    let stored = runs::get(&store, &run.id).unwrap();
    assert_eq!(stored.status, ExecutionStatus::Interrupted);
    let recorded = &stored.result.as_ref().unwrap()["memories"]["recorded"];
    assert_eq!(recorded.as_array().unwrap().len(), 2);
    assert!(!file.exists(), "the file is read once, then removed");
}
