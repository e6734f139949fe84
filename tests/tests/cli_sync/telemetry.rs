//! OpenTelemetry export from the CLI to a real OTLP/HTTP receiver on 127.0.0.1 (the
//! protocol's own protobuf messages, decoded): a workflow run with a shell, an agent and a
//! failing step gives a root span and one child span per step, with their attributes and the
//! failure's error status, and each store write a span; a sync round with the real server is
//! a span with its cells. With the collector gone, the run still succeeds.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};

use flightdeck_tests::otlp::{attr, metrics, receiver, service_name, spans, Span};
use flightdeck_tests::sync_rig::{cli_binary, server_binary, Server};

use super::json;

fn with_otlp(data: &Path, args: &[&str], endpoint: &str) -> Output {
    Command::new(cli_binary())
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        .env("OTEL_SERVICE_NAME", "flightdeck-under-test")
        .output()
        .expect("the CLI runs")
}

#[test]
fn a_workflow_run_exports_a_span_per_run_and_step_to_a_real_receiver() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    json(d, &["env", "add", "web", "--agent", "echo {prompt}"]);
    let file = d.join("ci.yaml");
    std::fs::write(
        &file,
        "name: ci\nenvironment: web\nsteps:\n  - id: build\n    shell: 'echo building'\n  - id: review\n    needs: build\n    agent: 'review the build'\n  - id: flaky\n    needs: build\n    continue_on_failure: true\n    shell: 'exit 3'\n",
    )
    .unwrap();
    json(d, &["workflow", "apply", file.to_str().unwrap()]);
    let (url, got) = receiver();
    let run = with_otlp(d, &["workflow", "start", "ci", "--follow"], &url);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );

    // Flushed before the command exited.
    assert_eq!(service_name(&got).as_deref(), Some("flightdeck-under-test"));
    let spans: Vec<Span> = spans(&got);
    let named = |name: &str| {
        spans
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| {
                let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
                panic!("no span `{name}` in {names:?}")
            })
            .clone()
    };
    let root = named("invoke_workflow ci");
    assert!(
        root.parent_span_id.is_empty(),
        "the workflow run's span is a root"
    );
    assert_eq!(
        attr(&root, "gen_ai.operation.name").as_deref(),
        Some("invoke_workflow")
    );
    assert_eq!(
        attr(&root, "flightdeck.run.status").as_deref(),
        Some("succeeded")
    );
    let build = named("step build");
    let review = named("invoke_agent echo");
    let flaky = named("step flaky");
    for child in [&build, &review, &flaky] {
        assert_eq!(child.trace_id, root.trace_id, "{}", child.name);
        assert_eq!(child.parent_span_id, root.span_id, "{}", child.name);
        assert!(child.end_time_unix_nano >= child.start_time_unix_nano);
        assert!(attr(child, "flightdeck.run.id").is_some());
    }
    assert_eq!(
        attr(&build, "process.command_line").as_deref(),
        Some("echo building")
    );
    assert_eq!(
        attr(&build, "flightdeck.workflow.step").as_deref(),
        Some("build")
    );
    assert_eq!(
        attr(&review, "gen_ai.operation.name").as_deref(),
        Some("invoke_agent")
    );
    assert_eq!(attr(&review, "gen_ai.agent.name").as_deref(), Some("echo"));
    assert_eq!(
        build.status.as_ref().map_or(0, |s| s.code),
        0,
        "unset: it succeeded"
    );
    let status = flaky.status.clone().expect("the failed step's status");
    assert_eq!(status.code, 2, "error");
    assert!(
        status.message.contains("exited with code 3"),
        "{}",
        status.message
    );
    assert_eq!(attr(&flaky, "process.exit.code").as_deref(), Some("3"));

    // Each store write transaction is a span too, with the rows it changed.
    let writes: Vec<&Span> = spans.iter().filter(|s| s.name == "store.write").collect();
    assert!(writes.len() >= 3, "{} store.write spans", writes.len());
    assert!(writes
        .iter()
        .all(|s| attr(s, "db.system.name").as_deref() == Some("sqlite")));
    assert!(writes
        .iter()
        .any(|s| attr(s, "flightdeck.store.changed_rows")
            .and_then(|n| n.parse::<i64>().ok())
            .is_some_and(|n| n > 0)));

    // The runs' metrics: three step runs ended.
    use opentelemetry_proto::tonic::metrics::v1::metric::Data;
    use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value as Number;
    let runs: i64 = metrics(&got, "flightdeck_runs_total")
        .iter()
        .filter_map(|m| match &m.data {
            Some(Data::Sum(sum)) => Some(
                sum.data_points
                    .iter()
                    .map(|p| match p.value {
                        Some(Number::AsInt(v)) => v,
                        _ => 0,
                    })
                    .sum::<i64>(),
            ),
            _ => None,
        })
        .sum();
    assert_eq!(runs, 3, "flightdeck_runs_total");
    let timed: u64 = metrics(&got, "flightdeck_run_duration_seconds")
        .iter()
        .filter_map(|m| match &m.data {
            Some(Data::Histogram(h)) => Some(h.data_points.iter().map(|p| p.count).sum::<u64>()),
            _ => None,
        })
        .sum();
    assert_eq!(timed, 3, "flightdeck_run_duration_seconds");

    // A collector that is gone costs the run nothing: it succeeds all the same.
    let dead = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let again = with_otlp(d, &["workflow", "start", "ci", "--follow"], &dead);
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_round_is_a_span_with_its_cells() {
    let server = Server::start(server_binary("debug")).await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    json(d, &["sync", "join", &server.url, &server.join_token]);
    json(d, &["task", "add", "traced"]);
    let (url, got) = receiver();
    let out = with_otlp(d, &["--json", "sync", "now"], &url);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let spans = spans(&got);
    let round = spans
        .iter()
        .find(|s| s.name == "sync.round")
        .unwrap_or_else(|| {
            let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
            panic!("no sync.round in {names:?}")
        });
    assert!(report["pushed_cells"].as_u64().unwrap() > 0, "{report}");
    assert_eq!(
        attr(round, "flightdeck.sync.pushed_cells"),
        Some(report["pushed_cells"].to_string())
    );
    assert_eq!(round.status.as_ref().map_or(0, |s| s.code), 0);
}
