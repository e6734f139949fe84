//! `{{ secrets.NAME }}` in step templates: the value from the keyring reaches the command and
//! the HTTP request, and nowhere else: not the stored spec, the recorded inputs, the log
//! (masked), nor any byte of the database file.

use std::sync::{Arc, Mutex};

use flightdeck_core::environments;
use flightdeck_core::secrets::OsKeyring;
use flightdeck_core::workflows;
use flightdeck_types::{NewEnvironment, StepStatus, WorkflowRunStatus};

use super::rig::WfRig;

const VALUE: &str = "s3cr3t-v4lue-7f2a";

#[test]
fn a_secret_reaches_the_step_and_never_the_database() {
    let rig = WfRig::start();
    let keyring = OsKeyring::from_env().unwrap();
    environments::create(
        &rig.store,
        NewEnvironment {
            name: "deploy".into(),
            secret_vars: vec!["API_TOKEN".into()],
            ..NewEnvironment::default()
        },
    )
    .unwrap();
    environments::set_secret(&rig.store, &keyring, "deploy", "API_TOKEN", VALUE).unwrap();

    // A local server that keeps the Authorization header and the body it was sent.
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let url = {
        let seen = seen.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
                let seen = seen.clone();
                async move {
                    let auth = headers["authorization"].to_str().unwrap().to_string();
                    seen.lock().unwrap().extend([auth, body]);
                    "ok"
                }
            }),
        );
        format!("{}/hook", rig.serve(app))
    };
    let got = rig.path("got");
    let got_text = got.display();
    rig.apply(&format!(
        r#"
name: release
environment: deploy
steps:
  - id: check
    shell: 'printf %s "{{{{ secrets.API_TOKEN }}}}" > {got_text} && echo "token={{{{ secrets.API_TOKEN }}}}"'
  - id: notify
    needs: check
    http:
      url: {url}
      method: POST
      headers:
        Authorization: "Bearer {{{{ secrets.API_TOKEN }}}}"
      body: '{{"token": "{{{{ secrets.API_TOKEN }}}}"}}'
  - id: unknown
    needs: check
    shell: echo "{{{{ secrets.NOT_THERE }}}}"
"#
    ));
    let run = rig.start_run("release", &[]);
    let done = rig.finished(&run.id);
    assert_eq!(
        done.status,
        WorkflowRunStatus::Failed,
        "the unknown secret fails its step"
    );
    assert_eq!(done.checkpoint.steps["check"].status, StepStatus::Succeeded);
    assert_eq!(
        done.checkpoint.steps["notify"].status,
        StepStatus::Succeeded
    );
    let unknown = &done.checkpoint.steps["unknown"];
    assert_eq!(unknown.status, StepStatus::Failed);
    let why = unknown.error.clone().unwrap_or_default();
    assert!(
        why.contains("NOT_THERE") && why.contains("`deploy`"),
        "{why}"
    );

    assert_eq!(std::fs::read_to_string(&got).unwrap(), VALUE);
    let check = rig.step_run(&run.id, "check");
    assert_eq!(rig.stdout(&check.id), ["token=***"]);
    assert_eq!(
        *seen.lock().unwrap(),
        [
            format!("Bearer {VALUE}"),
            format!("{{\"token\": \"{VALUE}\"}}")
        ]
    );
    // What is stored names the secret, never its value.
    let spec = serde_json::to_string(&rig.step_run(&run.id, "notify").spec).unwrap();
    assert!(spec.contains("Bearer «secret:API_TOKEN»"), "{spec}");
    let snapshots =
        serde_json::to_string(&workflows::snapshots(&rig.store, &run.id).unwrap()).unwrap();
    assert!(
        !snapshots.contains(VALUE),
        "{}",
        &snapshots[snapshots.find(VALUE).unwrap_or(0).saturating_sub(300)..]
    );
    assert_not_in_database(&rig, VALUE);
}

const PARAM_VALUE: &str = "p4ram-v4lue-93ce";

/// The bytes of the database and its log hold `value` nowhere.
fn assert_not_in_database(rig: &WfRig, value: &str) {
    drop(
        rig.store
            .read(|c| Ok(c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?)),
    );
    for file in ["flightdeck.db", "flightdeck.db-wal"] {
        let bytes = std::fs::read(rig.path(file)).unwrap_or_default();
        assert!(
            !bytes.windows(value.len()).any(|w| w == value.as_bytes()),
            "the value is in {file}"
        );
    }
}

#[test]
fn a_secret_parameter_reaches_its_steps_and_child_runs_and_never_the_database() {
    let rig = WfRig::start();
    let (got, child_got) = (rig.path("got"), rig.path("child-got"));
    rig.apply(&format!(
        "name: child\nparams:\n  token: {{ type: string, secret: true }}\nsteps:\n  - id: use\n    shell: printf %s {{{{ params.token | quote }}}} > {c}\n",
        c = child_got.display()
    ));
    rig.apply(&format!(
        "name: deploy\nparams:\n  token: {{ type: string, secret: true }}\n  target: prod\nsteps:\n  - id: check\n    shell: 'printf %s \"{{{{ params.token }}}}\" > {g} && echo \"token={{{{ params.token }}}} to {{{{ params.target }}}}\"'\n  - id: child\n    needs: check\n    workflow: {{ name: child, params: {{ token: '{{{{ params.token }}}}' }} }}\n",
        g = got.display()
    ));
    let run = rig.start_run("deploy", &[&format!("token={PARAM_VALUE}")]);
    let done = rig.finished(&run.id);
    assert_eq!(
        done.status,
        WorkflowRunStatus::Succeeded,
        "{:?}",
        done.error
    );
    assert_eq!(std::fs::read_to_string(&got).unwrap(), PARAM_VALUE);
    assert_eq!(std::fs::read_to_string(&child_got).unwrap(), PARAM_VALUE);
    let check = rig.step_run(&run.id, "check");
    assert_eq!(rig.stdout(&check.id), ["token=*** to prod"]);
    let marker = done.checkpoint.params["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(marker.starts_with("«secret:param/"), "{marker}");
    assert_eq!(done.checkpoint.params["target"], "prod");

    // A rerun reads the same value from the keyring.
    std::fs::remove_file(&got).unwrap();
    let again = workflows::rerun_from(&rig.store, &run.id, "check").unwrap();
    let again = rig.finished(&again.id);
    assert_eq!(
        again.status,
        WorkflowRunStatus::Succeeded,
        "{:?}",
        again.error
    );
    assert_eq!(std::fs::read_to_string(&got).unwrap(), PARAM_VALUE);
    assert_not_in_database(&rig, PARAM_VALUE);

    // A marker is not a value: another run's secret cannot be named by hand.
    let err = workflows::start(
        &rig.store,
        &OsKeyring::from_env().unwrap(),
        &flightdeck_types::StartWorkflow {
            workflow: "child".into(),
            text_params: vec![format!("token={marker}")],
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("parameter `token`: a secret's marker is not a value"),
        "{err}"
    );
}

#[test]
fn a_secret_parameter_cannot_come_from_a_stored_request_or_be_tested() {
    let rig = WfRig::start();
    rig.apply("name: child\nparams:\n  token: { type: string, secret: true }\nsteps:\n  - id: use\n    shell: 'true'\n");
    // A parent passing a literal is a stored request, as a schedule's parameters are.
    rig.apply("name: parent\nsteps:\n  - id: c\n    workflow: { name: child, params: { token: written-down } }\n");
    let run = rig.start_run("parent", &[]);
    let done = rig.finished(&run.id);
    assert_eq!(done.status, WorkflowRunStatus::Failed);
    let why = done.error.unwrap();
    assert!(
        why.contains("parameter `token` of workflow `child` is secret, and a schedule or `run --workflow` stores the parameters it is given"),
        "{why}"
    );
    for (yaml, want) in [
        (
            "name: w\nparams:\n  token: { type: string, secret: true, default: abc }\nsteps:\n  - id: a\n    shell: 'true'\n",
            "parameter `token`: a secret parameter takes no `default`",
        ),
        (
            "name: w\nparams:\n  n: { type: integer, secret: true }\nsteps:\n  - id: a\n    shell: 'true'\n",
            "parameter `n`: a secret parameter is a string, not integer",
        ),
        (
            "name: w\nparams:\n  token: { type: string, secret: true }\nsteps:\n  - id: a\n    when: params.token == 'x'\n    shell: 'true'\n",
            "step `a`, field `when`: parameter `token` is secret, and a condition cannot test it",
        ),
    ] {
        let err = workflows::validate(yaml, workflows::Format::Yaml).unwrap_err();
        assert!(err.to_string().contains(want), "{want}\nin: {err}");
    }
}
