//! Every step kind through the real engine: `http` against a real local server (status and
//! JSON body as outputs, templated headers and body, a failing answer with
//! `continue_on_failure`), `agent_thread` against a real local agent service, `agent` with
//! the environment's agent command, and `env` and `working_dir` of shell steps.

use std::sync::{Arc, Mutex};

use axum::routing::{get, post};
use flightdeck_core::environments;
use flightdeck_types::{NewEnvironment, StepStatus, WorkflowRunStatus};
use serde_json::{json, Value};

use super::rig::WfRig;

/// A local server: `GET /item` answers 201 with JSON, `POST /echo` records what it was sent,
/// `GET /broken` answers 500, and an agent service whose threads reply at once.
fn serve(rig: &WfRig, seen: Arc<Mutex<Vec<Value>>>) -> String {
    let app = axum::Router::new()
        .route(
            "/item",
            get(|| async { (axum::http::StatusCode::CREATED, axum::Json(json!({ "n": 3, "name": "widget" }))) }),
        )
        .route(
            "/echo",
            post(move |headers: axum::http::HeaderMap, body: String| {
                let seen = seen.clone();
                async move {
                    let tag = headers["x-tag"].to_str().unwrap().to_string();
                    seen.lock().unwrap().push(json!({ "tag": tag, "body": body }));
                    "ok"
                }
            }),
        )
        .route(
            "/broken",
            get(|| async { (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "down") }),
        )
        .route(
            "/api/threads/{id}/messages",
            post(|axum::extract::Path(id): axum::extract::Path<String>, axum::Json(m): axum::Json<Value>| async move {
                axum::Json(json!({
                    "status": "completed",
                    "reply": format!("{id} heard: {}", m["message"].as_str().unwrap_or_default()),
                }))
            }),
        );
    rig.serve(app)
}

#[test]
fn http_agent_thread_agent_and_shell_fields_all_take_effect() {
    let rig = WfRig::start();
    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    let base = serve(&rig, seen.clone());
    let workdir = rig.path("work");
    std::fs::create_dir(&workdir).unwrap();
    environments::create(
        &rig.store,
        NewEnvironment {
            name: "agents".into(),
            agent_command: Some("echo agent-was-asked {prompt}".into()),
            ..NewEnvironment::default()
        },
    )
    .unwrap();
    rig.apply(&format!(
        r#"
name: kinds
environment: agents
params:
  tag: {{ type: string, default: blue }}
steps:
  - id: fetch
    http: {{ url: "{base}/item" }}
  - id: send
    needs: fetch
    http:
      url: "{base}/echo"
      method: POST
      headers: {{ X-Tag: "{{{{ params.tag }}}}" }}
      body: '{{"n": {{{{ steps.fetch.json.n }}}}, "status": {{{{ steps.fetch.status }}}}}}'
  - id: broken
    http: {{ url: "{base}/broken" }}
    continue_on_failure: true
  - id: after_broken
    needs: broken
    shell: echo "broken was {{{{ steps.broken.state }}}} with {{{{ steps.broken.status }}}}"
  - id: thread
    needs: fetch
    agent_thread: {{ base_url: "{base}", thread_id: t-7, message: "make {{{{ steps.fetch.json.name }}}}" }}
  - id: ask
    agent: "fix {{{{ params.tag }}}}"
  - id: place
    shell: echo "$GREETING from $(pwd)"
    env: {{ GREETING: "hi {{{{ params.tag }}}}" }}
    working_dir: {w}
"#,
        w = workdir.display()
    ));
    let run = rig.start_run("kinds", &[]);
    let done = rig.finished(&run.id);
    assert_eq!(
        done.status,
        WorkflowRunStatus::Succeeded,
        "{:?}",
        done.error
    );
    let steps = &done.checkpoint.steps;
    assert_eq!(steps["fetch"].outputs.status, Some(201));
    assert_eq!(
        steps["fetch"].outputs.json,
        Some(json!({ "n": 3, "name": "widget" }))
    );
    assert_eq!(
        *seen.lock().unwrap(),
        [json!({ "tag": "blue", "body": "{\"n\": 3, \"status\": 201}" })]
    );
    assert_eq!(steps["broken"].status, StepStatus::Failed);
    assert_eq!(steps["broken"].outputs.status, Some(500));
    assert_eq!(
        rig.stdout(&rig.step_run(&run.id, "after_broken").id),
        ["broken was failed with 500"]
    );
    let thread = rig.step_run(&run.id, "thread");
    assert_eq!(
        thread.result.as_ref().unwrap()["reply"],
        "t-7 heard: make widget"
    );
    assert_eq!(
        rig.stdout(&rig.step_run(&run.id, "ask").id),
        ["agent-was-asked fix blue"]
    );
    assert_eq!(
        rig.stdout(&rig.step_run(&run.id, "place").id),
        [format!("hi blue from {}", workdir.display())]
    );
}
