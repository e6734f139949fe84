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
        let listener = rig
            .runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        rig.runtime
            .spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}/hook")
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
    drop(
        rig.store
            .read(|c| Ok(c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?)),
    );
    for file in ["flightdeck.db", "flightdeck.db-wal"] {
        let bytes = std::fs::read(rig.path(file)).unwrap_or_default();
        assert!(
            !bytes.windows(VALUE.len()).any(|w| w == VALUE.as_bytes()),
            "the value is in {file}"
        );
    }
}
