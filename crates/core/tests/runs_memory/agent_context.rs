//! An agent run gets its context: the memories a search for its task returns (in the same
//! order, within the size cap) in the file `$FLIGHTDECK_CONTEXT_FILE`, `{context}` in the agent
//! command naming it as one shell word, and the variables tying it to its run and workspace.

use flightdeck_core::memory::{self, embed::shared_default};
use flightdeck_core::runs::agent_context::{self, ContextSettings};
use flightdeck_core::{environments, runs, tasks, Store};
use flightdeck_types::{
    Execution, ExecutionStatus, MemoryFilter, NewEnvironment, NewMemory, NewTask, StartRun,
};

use super::runner::Rig;

const MEMORIES: [&str; 5] = [
    "The login test is flaky because the session cookie expires during slow CI runs",
    "Raise the CI session timeout with LOGIN_SESSION_TTL=600 to stop login test failures",
    "The coffee machine on the third floor only takes coins",
    "Invoices go out on the first Monday of each month",
    "Release the web frontend with the blue-green deploy script",
];

fn seed(store: &Store) -> String {
    let model = shared_default().expect("the embedding model (run scripts/setup.sh)");
    for content in MEMORIES {
        let input = NewMemory {
            content: content.into(),
            ..Default::default()
        };
        memory::add(store, Some(model), input).unwrap();
    }
    // `{context}` as an argument: printf shows it was one word; the file is copied out.
    let env = environments::create(
        store,
        NewEnvironment {
            name: "agent".into(),
            agent_command: Some(
                r#"printf 'arg=[%s]\n' {context}; cat "$FLIGHTDECK_CONTEXT_FILE"; echo "ids=$FLIGHTDECK_EXECUTION_ID/$FLIGHTDECK_TASK_ID/$FLIGHTDECK_WORKSPACE/$FLIGHTDECK_DATA_DIR"; : {prompt}"#
                    .into(),
            ),
            ..Default::default()
        },
    )
    .unwrap();
    let task = tasks::create(
        store,
        NewTask {
            title: "Fix the flaky login test".into(),
            description: Some("It fails on CI about one run in ten.".into()),
            environment: Some(env.name),
            ..Default::default()
        },
    )
    .unwrap();
    task.id
}

fn stdout_of(rig: &Rig, run_id: &str) -> String {
    rig.output(run_id)
        .into_iter()
        .filter(|(kind, _)| kind == "stdout")
        .map(|(_, line)| line)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs the task's agent command, as `flightdeck run TASK` does, to its end.
fn agent_run(rig: &Rig, task_id: &str) -> Execution {
    let input = StartRun {
        task_id: task_id.to_string(),
        ..Default::default()
    };
    let run = runs::start_for_task(&rig.store, &input).unwrap();
    rig.final_state(&run.id)
}

#[test]
fn an_agent_run_gets_the_memories_a_search_for_its_task_returns_in_order() {
    let rig = Rig::start_in_workspace("my data", "team-a");
    let task_id = seed(&rig.store);
    let expected: Vec<String> = memory::search(
        &rig.store,
        shared_default(),
        "Fix the flaky login test\nIt fails on CI about one run in ten.",
        &MemoryFilter::default(),
        ContextSettings::default().memories,
    )
    .unwrap()
    .hits
    .into_iter()
    .map(|h| h.memory.content)
    .collect();
    assert!(expected.len() >= 2, "{expected:?}");

    let run = agent_run(&rig, &task_id);
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{:?}", run.error);
    let out = stdout_of(&rig, &run.id);

    // `{context}` became the file's path, one word although the data dir has a space.
    let file = agent_context::context_file_path(&rig.store, &run.id);
    assert!(file.display().to_string().contains("my data"));
    assert!(out.contains(&format!("arg=[{}]", file.display())), "{out}");
    assert!(out.contains("# Task: Fix the flaky login test"), "{out}");
    // The memories, in the search's order; the unrelated ones under the floor are not there.
    let positions: Vec<usize> = expected
        .iter()
        .map(|m| {
            out.find(m.as_str())
                .unwrap_or_else(|| panic!("{m} not in {out}"))
        })
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
    for absent in MEMORIES
        .iter()
        .filter(|m| !expected.iter().any(|e| e == *m))
    {
        assert!(!out.contains(absent), "{absent} given:\n{out}");
    }
    let data_dir = rig
        .store
        .path()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap();
    assert!(
        out.contains(&format!(
            "ids={}/{}/team-a/{}",
            run.id,
            task_id,
            data_dir.display()
        )),
        "{out}"
    );

    // The run records what it was given, and those memories count as used.
    let event = runs::events(&rig.store, &run.id, 0, 1000)
        .unwrap()
        .into_iter()
        .find(|e| e.kind == "context")
        .expect("a context event");
    let given: agent_context::GivenContext = serde_json::from_str(&event.data).unwrap();
    assert_eq!(given.memory_ids.len(), expected.len());
    for m in memory::list(&rig.store, &MemoryFilter::default(), 10).unwrap() {
        let was_given = given.memory_ids.contains(&m.id);
        assert_eq!(m.access_count, i64::from(was_given), "{}", m.content);
        assert_eq!(m.last_accessed_at.is_some(), was_given);
    }
}

#[test]
fn the_size_cap_holds_and_context_can_be_turned_off() {
    let rig = Rig::start();
    let task_id = seed(&rig.store);
    let start = || agent_run(&rig, &task_id);
    agent_context::set_settings(
        &rig.store,
        ContextSettings {
            max_bytes: 1024,
            memories: 5,
            ..ContextSettings::default()
        },
    )
    .unwrap();
    let run = start();
    let size = std::fs::metadata(agent_context::context_file_path(&rig.store, &run.id))
        .unwrap()
        .len();
    assert!(size <= 1024, "{size}");

    let refused = agent_context::set_settings(
        &rig.store,
        ContextSettings {
            max_bytes: 10,
            ..ContextSettings::default()
        },
    )
    .unwrap_err();
    assert!(refused.to_string().contains("at least 1024"), "{refused}");

    agent_context::set_settings(
        &rig.store,
        ContextSettings {
            enabled: false,
            ..ContextSettings::default()
        },
    )
    .unwrap();
    let run = start();
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{:?}", run.error);
    // No file: `{context}` expands to an empty word and `cat ""` fails, the rest still runs.
    assert!(!agent_context::context_file_path(&rig.store, &run.id).exists());
    assert!(stdout_of(&rig, &run.id).contains("arg=[]"));
}

#[test]
fn an_environment_can_turn_context_off_for_its_own_agent_runs() {
    let rig = Rig::start();
    let task_id = seed(&rig.store);
    let keyring = flightdeck_core::secrets::OsKeyring::from_env().unwrap();
    let off = flightdeck_types::EnvironmentPatch {
        agent_context: Some(false),
        ..Default::default()
    };
    let env = environments::update(&rig.store, &keyring, "agent", off).unwrap();
    assert!(!env.agent_context);
    let run = agent_run(&rig, &task_id);
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{:?}", run.error);
    assert!(!agent_context::context_file_path(&rig.store, &run.id).exists());
    assert!(stdout_of(&rig, &run.id).contains("arg=[]"));
    let event = runs::events(&rig.store, &run.id, 0, 1000)
        .unwrap()
        .into_iter()
        .find(|e| e.kind == "context")
        .expect("a context event says why there is none");
    assert!(
        event
            .data
            .contains("context is off for environment `agent`"),
        "{}",
        event.data
    );

    // Back on: the file is given again.
    let on = flightdeck_types::EnvironmentPatch {
        agent_context: Some(true),
        ..Default::default()
    };
    environments::update(&rig.store, &keyring, "agent", on).unwrap();
    let run = agent_run(&rig, &task_id);
    assert!(agent_context::context_file_path(&rig.store, &run.id).exists());
}
