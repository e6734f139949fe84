//! Definitions: every validation problem by name, nothing written when refused, YAML and
//! JSON giving the same rows, versions.

use flightdeck_core::workflows::{self, Format};
use flightdeck_core::CoreError;
use flightdeck_types::StartWorkflow;

use super::common::count;
use super::rig::WfRig;

fn refused(yaml: &str) -> String {
    let rig = WfRig::idle();
    let err = workflows::apply(&rig.store, yaml, Format::Yaml).unwrap_err();
    assert!(matches!(err, CoreError::Invalid(_)), "{err}");
    assert_eq!(
        count(&rig.store, "SELECT count(*) FROM workflows"),
        0,
        "nothing written"
    );
    // `validate` runs the same checks.
    let again = workflows::validate(yaml, Format::Yaml).unwrap_err();
    assert_eq!(again.to_string(), err.to_string());
    err.to_string()
}

#[test]
fn each_problem_is_named_with_its_place() {
    let cases: &[(&str, &str)] = &[
        (
            "name: w\nsteps:\n  - id: a\n    needs: [ghost]\n    shell: 'true'\n",
            "step `a`, field `needs`: unknown step `ghost`",
        ),
        (
            "name: w\nsteps:\n  - id: a\n    needs: [c]\n    shell: 'true'\n  - id: b\n    needs: [a]\n    shell: 'true'\n  - id: c\n    needs: [b]\n    shell: 'true'\n",
            "a cycle in `needs`: a -> c -> b -> a",
        ),
        (
            "name: w\nsteps:\n  - id: a\n    shell: 'true'\n  - id: a\n    shell: 'false'\n",
            "duplicate step id `a` (steps 1 and 2)",
        ),
        (
            "name: w\nsteps:\n  - id: a\n    shell: 'echo {{ params.x'\n",
            "step `a`, field `shell`: the template does not parse",
        ),
        (
            "name: w\nsteps:\n  - id: a\n    shell: 'echo {{ steps.nope.outputs.x }}'\n",
            "step `a`, field `shell`: names unknown step `nope`",
        ),
        (
            "name: w\nparams:\n  x: { type: string, default: hi }\nsteps:\n  - id: a\n    shell: 'echo {{ params.y }}'\n",
            "step `a`, field `shell`: names unknown parameter `y` (declared: x)",
        ),
        (
            "name: w\nsteps:\n  - id: a\n    shell: 'true'\n  - id: b\n    shell: 'echo {{ steps.a.outputs.k }}'\n",
            "uses step `a`, which is not among this step's needs",
        ),
        (
            "name: w\nsteps:\n  - id: a\n    docker: alpine\n",
            "step `a`: unknown executor or field `docker`",
        ),
        (
            "name: w\nsteps:\n  - id: a\n    shell: 'true'\n    when: 'steps.a.exit_code =='\n",
            "step `a`, field `when`: the condition does not parse",
        ),
        (
            "name: w\nparams:\n  n: { type: integer, default: many }\nsteps:\n  - id: a\n    shell: 'true'\n",
            "parameter `n`: the default `\"many\"` is not of type integer",
        ),
        ("name: w\nsteps: [\n", "not valid YAML: "),
        (
            "name: w\nsteps:\n  - id: a\n    shell: 'true'\n    timeout: soon\n",
            "step `a`, field `timeout`",
        ),
        (
            "name: w\nsteps:\n  - id: a\n    shell: |\n      echo start\n      echo ${#x}\n",
            "step `a`, field `shell`: the template does not parse: syntax error (unexpected end of comment) at line 2, column",
        ),
        (
            "name: w\nsteps:\n  - id: a\n    workflow: other\n    timeout: 30\n",
            "step `a`, field `timeout`: a `workflow:` step waits for its child run",
        ),
        (
            "name: w\nsteps:\n  - id: build\n    shell: echo artifact=x >> $FLIGHTDECK_OUTPUT\n    outputs: [artifact]\n  - id: ship\n    needs: build\n    shell: echo {{ steps.build.outputs.artifcat }}\n",
            "step `ship`, field `shell`: `steps.build.outputs.artifcat`: step `build` declares no output `artifcat` (its `outputs`: artifact); did you mean `artifact`?",
        ),
        (
            "name: w\nsteps:\n  - id: ask\n    http: { url: 'http://x' }\n    outputs: [a]\n",
            "step `ask`, field `outputs`: only `shell`, `agent` and `workflow:` steps write outputs (a http step's are its `status` and `json`)",
        ),
        (
            "name: w\nsteps:\n  - id: a\n    shell: 'true'\n    outputs: [ok, 'no good', ok]\n",
            "step `a`, field `outputs`: `no good` must be letters, digits, `_` and `-`",
        ),
        (
            "name: w\nsteps:\n  - id: a\n    shell: 'true'\n    outputs: [ok, ok]\n",
            "step `a`, field `outputs`: `ok` is listed twice",
        ),
        (
            "name: w\ntimeout: later\nsteps:\n  - id: a\n    shell: 'true'\n",
            "`timeout`: must be a positive number of seconds",
        ),
        (
            "name: w\nsteps:\n  - id: a\n    kind: approval\n    on_timeout: approve\n",
            "step `a`, field `on_timeout`: takes effect only with a `timeout`",
        ),
        (
            "name: w\nsteps:\n  - id: a\n    kind: approval\n    timeout: 1h\n    on_timeout: shrug\n",
            "step `a`, field `on_timeout`: `shrug` must be `reject` or `approve`",
        ),
        (
            "name: w\nsteps:\n  - id: a\n    shell: 'true'\n    timeout: 5\n    on_timeout: approve\n",
            "step `a`, field `on_timeout`: only an approval step",
        ),
        (
            "name: w\nsteps:\n  - id: a\n    shell: 'true'\n    isolation: sideways\n",
            "step `a`, field `isolation`: unknown isolation `sideways`; expected one of shared, worktree",
        ),
        (
            "name: w\nsteps:\n  - id: a\n    http: { url: 'http://x' }\n    isolation: worktree\n",
            "step `a`, field `isolation`: only `shell` and `agent` steps run in a worktree",
        ),
    ];
    for (yaml, want) in cases {
        let message = refused(yaml);
        assert!(
            message.contains(want),
            "for\n{yaml}\nwanted `{want}` in: {message}"
        );
    }
    // The parser's line is given for syntax errors.
    let message = refused("name: w\nsteps:\n  - id: a\n    shell: [unclosed\n");
    assert!(message.contains("line"), "{message}");
    // Several problems are all listed.
    let message = refused(
        "name: w\nsteps:\n  - id: a\n    needs: [x]\n    shell: 'true'\n  - id: a\n    http: { }\n",
    );
    assert!(
        message.contains("3 problems") || message.contains("problems:"),
        "{message}"
    );
    assert!(message.contains("unknown step `x`") && message.contains("duplicate step id"));
}

#[test]
fn a_step_asks_for_a_worktree() {
    let rig = WfRig::idle();
    let applied = workflows::apply(
        &rig.store,
        "name: w\nsteps:\n  - id: a\n    shell: 'true'\n    isolation: worktree\n",
        Format::Yaml,
    )
    .unwrap();
    let step = &applied.workflow.definition.steps[0];
    assert_eq!(step.isolation, Some(flightdeck_types::Isolation::Worktree));
}

#[test]
fn parameters_are_checked_at_start() {
    let rig = WfRig::idle();
    rig.apply(
        "name: p\nparams:\n  count: { type: integer }\n  mode: { type: string, default: fast }\nsteps:\n  - id: a\n    shell: 'echo {{ params.count }}'\n",
    );
    let start = |params: &[&str]| {
        workflows::start(
            &rig.store,
            &flightdeck_core::secrets::OsKeyring::from_env().unwrap(),
            &StartWorkflow {
                workflow: "p".into(),
                text_params: params.iter().map(|p| p.to_string()).collect(),
                ..Default::default()
            },
        )
    };
    let missing = start(&[]).unwrap_err().to_string();
    assert!(
        missing.contains("parameter `count` (integer) is required"),
        "{missing}"
    );
    let wrong = start(&["count=lots"]).unwrap_err().to_string();
    assert!(
        wrong.contains("parameter `count`: `lots` is not an integer"),
        "{wrong}"
    );
    let unknown = start(&["count=1", "colour=red"]).unwrap_err().to_string();
    assert!(unknown.contains("unknown parameter `colour`"), "{unknown}");
    let typed = workflows::start(
        &rig.store,
        &flightdeck_core::secrets::OsKeyring::from_env().unwrap(),
        &StartWorkflow {
            workflow: "p".into(),
            params: serde_json::json!({ "count": "3" })
                .as_object()
                .unwrap()
                .clone(),
            ..Default::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(typed.contains("is not of type integer"), "{typed}");
    assert_eq!(count(&rig.store, "SELECT count(*) FROM workflow_runs"), 0);

    let run = start(&["count=7"]).unwrap();
    assert_eq!(run.checkpoint.params["count"], 7);
    assert_eq!(run.checkpoint.params["mode"], "fast", "defaults fill in");
}

const YAML: &str = "\
name: same
params:
  who: { type: string, default: world }
concurrency: 2
steps:
  - id: a
    shell: echo hello {{ params.who }}
  - id: b
    needs: [a]
    retry: { max_attempts: 2, base_delay_ms: 10 }
    timeout: 30s
    shell: echo done
";

const JSON: &str = r#"{
  "name": "same",
  "params": { "who": { "type": "string", "default": "world" } },
  "concurrency": 2,
  "steps": [
    { "id": "a", "shell": "echo hello {{ params.who }}" },
    { "id": "b", "needs": ["a"], "retry": { "max_attempts": 2, "base_delay_ms": 10 },
      "timeout": 30, "shell": "echo done" }
  ]
}"#;

#[test]
fn yaml_and_json_give_the_same_rows_and_versions_move_only_on_change() {
    let rig = WfRig::idle();
    let first = workflows::apply(&rig.store, YAML, Format::Yaml).unwrap();
    assert!(first.changed);
    assert_eq!(first.workflow.version, 1);
    let definition_row = |v: u32| -> String {
        rig.store
            .read(|c| {
                Ok(c.query_row(
                    "SELECT definition FROM workflows WHERE name = 'same' AND version = ?1",
                    [v],
                    |r| r.get(0),
                )?)
            })
            .unwrap()
    };
    let yaml_row = definition_row(1);

    // The same definition in JSON is the same version: nothing is written.
    let json = workflows::apply(&rig.store, JSON, Format::Json).unwrap();
    assert!(!json.changed);
    assert_eq!(json.workflow.version, 1);
    assert_eq!(count(&rig.store, "SELECT count(*) FROM workflows"), 1);
    assert_eq!(definition_row(1), yaml_row);
    let parsed = workflows::validate(JSON, Format::Json).unwrap();
    assert_eq!(parsed, first.workflow.definition);

    // A change makes version 2; version 1 is untouched.
    let changed = YAML.replace("echo done", "echo finished");
    let second = workflows::apply(&rig.store, &changed, Format::Yaml).unwrap();
    assert!(second.changed);
    assert_eq!(second.workflow.version, 2);
    // Each version's id is its own, derived from its content (see `workflows::version_id`).
    assert_ne!(second.workflow.id, first.workflow.id);
    assert_eq!(
        second.workflow.id,
        workflows::version_id(&second.workflow.definition, 2)
    );
    assert_eq!(definition_row(1), yaml_row);
    let versions = workflows::versions(&rig.store, "same").unwrap();
    assert_eq!(
        versions.iter().map(|w| w.version).collect::<Vec<_>>(),
        [1, 2]
    );
    let diff = workflows::diff(&rig.store, "same", 1, 2).unwrap();
    assert!(
        diff.contains("-  shell: echo done") || diff.contains("-    shell: echo done"),
        "{diff}"
    );
    assert!(diff.contains("echo finished"), "{diff}");
    assert_eq!(
        workflows::show(&rig.store, "same", Some(1))
            .unwrap()
            .definition,
        first.workflow.definition
    );

    // Removed: hidden and refused at start; applying again brings it back.
    workflows::remove(&rig.store, "same").unwrap();
    assert!(workflows::list(&rig.store).unwrap().is_empty());
    let err = rig.start_run_err("same");
    assert!(err.contains("was removed"), "{err}");
    assert!(
        workflows::apply(&rig.store, &changed, Format::Yaml)
            .unwrap()
            .changed
    );
    assert_eq!(workflows::list(&rig.store).unwrap().len(), 1);
}

impl WfRig {
    fn start_run_err(&self, name: &str) -> String {
        workflows::start(
            &self.store,
            &flightdeck_core::secrets::OsKeyring::from_env().unwrap(),
            &StartWorkflow {
                workflow: name.into(),
                ..Default::default()
            },
        )
        .unwrap_err()
        .to_string()
    }
}

/// The README's worked example is a valid file, as printed there.
#[test]
fn the_readme_example_is_valid() {
    let readme = include_str!("../../../../README.md");
    let start = readme
        .find("# release.yaml\n")
        .expect("the README's example");
    let block = &readme[start..];
    let yaml = &block[..block.find("```").unwrap()];
    let def = workflows::validate(yaml, Format::Yaml).unwrap();
    assert_eq!(def.name, "release");
    assert_eq!(def.steps.len(), 5);
    round_trips(&def);
}

/// What `workflow show` prints is a file `apply` takes unchanged, as YAML and as JSON.
fn round_trips(def: &flightdeck_types::WorkflowDefinition) {
    let file = workflows::definition::to_file(def);
    let yaml = serde_yaml_ng::to_string(&file).unwrap();
    assert_eq!(
        &workflows::validate(&yaml, Format::Yaml).unwrap(),
        def,
        "{yaml}"
    );
    let json = serde_json::to_string(&file).unwrap();
    assert_eq!(
        &workflows::validate(&json, Format::Json).unwrap(),
        def,
        "{json}"
    );
}

#[test]
fn every_step_kind_and_field_round_trips_through_the_printed_file() {
    let yaml = r#"
name: everything
description: every kind and field
concurrency: 3
environment: backend
timeout: 2h
params:
  version: { type: string, description: what to ship }
  count: { type: integer, default: 2 }
  dry: { type: boolean, default: false }
  greeting: hello
  targets: { type: list, default: [eu, us] }
steps:
  - id: build
    name: Build it
    shell: make VERSION={{ params.version | quote }}
    env: { RUST_LOG: debug }
    working_dir: /srv/app
    timeout: 5m
    retry: { max_attempts: 3, base_delay_ms: 10 }
    isolation: worktree
    outputs: [artifact, version]
  - id: ping
    needs: build
    when: steps.build.exit_code == 0
    http:
      url: http://127.0.0.1:9/{{ params.version }}
      method: POST
      headers: { Authorization: "Bearer {{ secrets.TOKEN }}" }
      body: '{"n": {{ params.count }}}'
    continue_on_failure: true
  - id: ask
    needs: [build, ping]
    kind: approval
    message: Ship {{ params.version }}?
    timeout: 30m
    on_timeout: approve
  - id: thread
    needs: ask
    agent_thread: { thread_id: t-1, message: go, base_url: http://127.0.0.1:3001 }
  - id: agent
    needs: ask
    agent: Write the notes for {{ params.version }}
    retry: 2
  - id: child
    needs: ask
    workflow: { name: other, params: { n: 1 } }
  - id: plain_child
    needs: ask
    workflow: other
  - id: each
    needs: ask
    foreach: "{{ params.targets }}"
    shell: deploy {{ item }} {{ index }}
  - id: literal
    needs: ask
    foreach: [a, 1, { k: v }]
    shell: echo {{ item }}
"#;
    let def = workflows::validate(yaml, Format::Yaml).unwrap();
    assert_eq!(def.steps.len(), 9);
    round_trips(&def);
}

/// A form's values: text read as each parameter's type, the first bad one named.
#[test]
fn form_values_are_read_as_their_types_and_the_bad_one_named() {
    let rig = WfRig::idle();
    let wf = rig.apply(
        "name: f\nparams:\n  count: { type: integer }\n  note: { type: string, default: x }\nsteps:\n  - id: a\n    shell: 'true'\n",
    );
    let given = |v: serde_json::Value| v.as_object().unwrap().clone();
    let typed = workflows::definition::typed_values(
        &wf.definition,
        given(serde_json::json!({"count": "3"})),
    );
    assert_eq!(typed.unwrap()["count"], 3);
    let bad = workflows::definition::typed_values(
        &wf.definition,
        given(serde_json::json!({"count": "abc"})),
    );
    assert_eq!(
        bad.unwrap_err(),
        ("count".to_string(), "`abc` is not an integer".to_string())
    );
    let missing = workflows::definition::typed_values(
        &wf.definition,
        given(serde_json::json!({"note": "y"})),
    );
    assert_eq!(missing.unwrap_err().0, "count");
    let unknown = workflows::definition::typed_values(
        &wf.definition,
        given(serde_json::json!({"count": 1, "x": 2})),
    );
    assert_eq!(unknown.unwrap_err().0, "x");
}
