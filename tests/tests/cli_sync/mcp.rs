//! A memory an agent records through `flightdeck mcp` on device A reaches device B through the
//! real sync server, where `memory search` finds it.

use std::path::Path;

use rmcp::model::CallToolRequestParams;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use rmcp::ServiceExt;
use serde_json::json;

use flightdeck_tests::sync_rig::{cli_binary, server_binary, Server};

use super::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_added_over_mcp_on_one_device_is_found_on_another() {
    let server = Server::start(server_binary("debug")).await;
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b): (&Path, &Path) = (a_dir.path(), b_dir.path());
    for data in [a, b] {
        json(data, &["sync", "join", &server.url, &server.join_token]);
    }

    let command = tokio::process::Command::new(cli_binary()).configure(|c| {
        c.arg("--data-dir")
            .arg(a)
            .arg("mcp")
            .env_remove("FLIGHTDECK_EXECUTION_ID");
    });
    let client = ().serve(TokioChildProcess::new(command).unwrap()).await.unwrap();
    let arguments =
        json!({"content": "The staging cluster drains its nodes every Sunday at 02:00"});
    let added = client
        .call_tool(
            CallToolRequestParams::new("add_memory")
                .with_arguments(arguments.as_object().unwrap().clone()),
        )
        .await
        .unwrap();
    assert_ne!(added.is_error, Some(true), "{added:?}");
    client.cancel().await.unwrap();

    json(a, &["sync", "now"]);
    json(b, &["sync", "now"]);
    let found = json(
        b,
        &["memory", "search", "when are the staging nodes drained?"],
    );
    assert_eq!(
        found["hits"][0]["memory"]["content"],
        "The staging cluster drains its nodes every Sunday at 02:00",
        "{found}"
    );
}
