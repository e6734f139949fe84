//! `flightdeck mcp` driven by a real MCP client (the official Rust SDK's, over the child's
//! stdio): initialize, list the tools, search and add memories (from inside a run: scoped to
//! its task, the run as source), and a bad argument as a JSON-RPC error naming the field.

use rmcp::model::{CallToolRequestParams, ReadResourceRequestParams, ResourceContents};
use rmcp::service::ServiceError;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use rmcp::ServiceExt;
use serde_json::{json, Value};

use super::common::{json, ok};
use super::{add, BACKUP, STAGING};

fn call(name: &'static str, arguments: Value) -> CallToolRequestParams {
    CallToolRequestParams::new(name).with_arguments(arguments.as_object().unwrap().clone())
}

/// The tool's answer: its one text block, as JSON.
fn answer(result: rmcp::model::CallToolResult) -> Value {
    assert_ne!(result.is_error, Some(true), "{result:?}");
    let text = &result.content[0].as_text().expect("a text block").text;
    serde_json::from_str(text).expect("the text is JSON")
}

/// Why a call that must fail was refused: a JSON-RPC error (what the tool itself checks), or
/// a tool error (arguments missing or of the wrong type, which the SDK checks before the tool
/// runs, so that the calling model sees it).
fn refusal(result: Result<rmcp::model::CallToolResult, ServiceError>) -> String {
    match result {
        Err(ServiceError::McpError(error)) => error.message.to_string(),
        Ok(result) if result.is_error == Some(true) => result.content[0]
            .as_text()
            .expect("a text block")
            .text
            .clone(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn an_mcp_client_searches_and_records_memories_scoped_to_its_run() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    add(&d, STAGING);
    add(&d, BACKUP);
    let task = ok(&d, &["task", "add", "Rotate the staging credentials"])
        .trim()
        .to_string();
    ok(&d, &["run", &task, "--shell", "true"]);
    let run = json(&d, &["runs", "list", "--task", &task])[0]["id"]
        .as_str()
        .unwrap()
        .to_string();

    let output_file = d.join("step-output");
    std::fs::write(&output_file, "").unwrap();
    let context_file = d.join("context.md");
    std::fs::write(&context_file, "# Task\nRotate the staging credentials\n").unwrap();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let bin = env!("CARGO_BIN_EXE_flightdeck");
        let command = tokio::process::Command::new(bin).configure(|c| {
            c.arg("--data-dir")
                .arg(&d)
                .arg("mcp")
                .env_remove("FLIGHTDECK_WORKSPACE")
                // As a run Flightdeck started would see it.
                .env("FLIGHTDECK_EXECUTION_ID", &run)
                .env("FLIGHTDECK_TASK_ID", &task)
                .env("FLIGHTDECK_CONTEXT_FILE", &context_file)
                .env("FLIGHTDECK_OUTPUT", &output_file);
        });
        let client = ().serve(TokioChildProcess::new(command).unwrap()).await.unwrap();
        let info = client.peer_info().expect("the server introduced itself");
        let server = info.server_info.as_ref().map(|s| s.name.as_str());
        assert_eq!(server, Some("flightdeck"), "{info:?}");

        let mut names: Vec<String> = client
            .list_all_tools()
            .await
            .unwrap()
            .iter()
            .map(|t| t.name.to_string())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "add_memory",
                "create_task",
                "get_run",
                "get_task",
                "list_tasks",
                "report_progress",
                "search_memory",
                "update_task"
            ]
        );

        // The run's task and its context file, as resources.
        let mut uris: Vec<String> = client
            .list_all_resources()
            .await
            .unwrap()
            .iter()
            .map(|r| r.uri.clone())
            .collect();
        uris.sort();
        assert_eq!(
            uris,
            ["flightdeck://context/current", "flightdeck://task/current"]
        );
        let read = |uri: &'static str| client.read_resource(ReadResourceRequestParams::new(uri));
        let text = |result: rmcp::model::ReadResourceResult| match &result.contents[0] {
            ResourceContents::TextResourceContents { text, .. } => text.clone(),
            other => panic!("not text: {other:?}"),
        };
        let task_json: Value =
            serde_json::from_str(&text(read("flightdeck://task/current").await.unwrap())).unwrap();
        assert_eq!(task_json["title"], "Rotate the staging credentials");
        let context = text(read("flightdeck://context/current").await.unwrap());
        assert!(context.starts_with("# Task"), "{context}");
        assert!(read("flightdeck://nothing").await.is_err());

        let found = answer(
            client
                .call_tool(call(
                    "search_memory",
                    json!({"query": "how often does the staging db password change?"}),
                ))
                .await
                .unwrap(),
        );
        assert_eq!(found["hits"][0]["content"], STAGING, "{found}");
        assert!(found["hits"][0]["relevance"].as_f64().unwrap() > 0.0);

        let added = answer(
            client
                .call_tool(call(
                    "add_memory",
                    json!({"content": "Deploys need a green CI run first", "kind": "lesson"}),
                ))
                .await
                .unwrap(),
        );
        assert_eq!(added["scope"]["kind"], "task", "{added}");
        assert_eq!(added["scope"]["id"], task.as_str(), "{added}");
        assert_eq!(added["source_execution_id"], run.as_str(), "{added}");

        let tasks = answer(
            client
                .call_tool(call("list_tasks", json!({})))
                .await
                .unwrap(),
        );
        assert_eq!(tasks[0]["id"], task.as_str(), "{tasks}");
        let created = answer(
            client
                .call_tool(call(
                    "create_task",
                    json!({"title": "Follow up on the rotation", "priority": "high"}),
                ))
                .await
                .unwrap(),
        );
        let created_id = created["id"].as_str().unwrap().to_string();
        let updated = answer(
            client
                .call_tool(call(
                    "update_task",
                    json!({"id": created_id, "status": "done"}),
                ))
                .await
                .unwrap(),
        );
        assert_eq!(updated["status"], "done", "{updated}");
        let shown = answer(
            client
                .call_tool(call("get_task", json!({"id": created_id})))
                .await
                .unwrap(),
        );
        assert_eq!(shown["title"], "Follow up on the rotation");
        let bad_status = refusal(
            client
                .call_tool(call(
                    "update_task",
                    json!({"id": created_id, "status": "finished"}),
                ))
                .await,
        );
        assert!(bad_status.contains("status"), "{bad_status}");

        let looked = answer(
            client
                .call_tool(call("get_run", json!({"id": run, "lines": 5})))
                .await
                .unwrap(),
        );
        assert_eq!(looked["run"]["status"], "succeeded", "{looked}");
        assert_eq!(looked["run"]["task_id"], task.as_str());

        let reported = answer(
            client
                .call_tool(call(
                    "report_progress",
                    json!({"message": "halfway there", "outputs": {"pr": "42"}}),
                ))
                .await
                .unwrap(),
        );
        assert_eq!(reported["outputs"], json!(["pr"]), "{reported}");
        let bad_output = refusal(
            client
                .call_tool(call(
                    "report_progress",
                    json!({"message": "x", "outputs": {"bad key": "1"}}),
                ))
                .await,
        );
        assert!(bad_output.contains("outputs"), "{bad_output}");

        let bad = refusal(
            client
                .call_tool(call("search_memory", json!({"query": "x", "limit": 0})))
                .await,
        );
        assert!(bad.contains("limit"), "{bad}");
        let missing = refusal(
            client
                .call_tool(call("search_memory", json!({"limit": 3})))
                .await,
        );
        assert!(missing.contains("query"), "{missing}");
        let unknown = refusal(
            client
                .call_tool(call("get_task", json!({"id": "no-such-task"})))
                .await,
        );
        assert!(unknown.contains("no-such-task"), "{unknown}");

        client.cancel().await.unwrap();
    });

    // The progress is in the run's log, and the outputs in the step's output file.
    assert_eq!(std::fs::read_to_string(&output_file).unwrap(), "pr=42\n");
    let logs = super::common::flightdeck(&d, &["runs", "logs", &run]);
    assert!(
        logs.stderr.contains("[progress] halfway there"),
        "{}",
        logs.stderr
    );

    // What the agent recorded is found by the CLI, as a person would look for it.
    let searched = json(&d, &["memory", "search", "what must pass before we deploy"]);
    assert_eq!(
        searched["hits"][0]["memory"]["content"], "Deploys need a green CI run first",
        "{searched}"
    );
}

#[test]
fn print_config_shows_how_to_register_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let claude = ok(d, &["mcp", "--print-config", "claude"]);
    assert!(
        claude.starts_with("claude mcp add flightdeck -- "),
        "{claude}"
    );
    assert!(
        claude.trim_end().ends_with("--workspace default mcp"),
        "{claude}"
    );
    let generic: Value =
        serde_json::from_str(&ok(d, &["mcp", "--print-config", "generic"])).unwrap();
    let server = &generic["mcpServers"]["flightdeck"];
    assert!(
        server["command"].as_str().unwrap().ends_with("flightdeck"),
        "{generic}"
    );
    assert_eq!(server["args"], json!(["--workspace", "default", "mcp"]));
    let codex = ok(d, &["mcp", "--print-config", "codex"]);
    assert!(codex.contains("[mcp_servers.flightdeck]"), "{codex}");
    let refused = super::common::fails(d, &["mcp", "--print-config", "vim"]);
    assert!(refused.contains("claude, codex or generic"), "{refused}");
}
