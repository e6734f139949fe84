//! OpenTelemetry export from the CLI to a real OTLP/HTTP receiver on 127.0.0.1 (the
//! protocol's own protobuf messages, decoded): a workflow run with a shell, an agent and a
//! failing step gives a root span and one child span per step, with their attributes and the
//! failure's error status. With the collector gone, the run still succeeds.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;

use crate::common::{command, ok};

/// Accepts OTLP/HTTP exports on a free port; returns its URL and the requests received.
fn receiver() -> (String, Arc<Mutex<Vec<ExportTraceServiceRequest>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let got = Arc::new(Mutex::new(Vec::new()));
    let sink = got.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let sink = sink.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut stream = stream;
                loop {
                    let (mut path, mut length) = (String::new(), 0usize);
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    path.push_str(line.split_whitespace().nth(1).unwrap_or_default());
                    loop {
                        line.clear();
                        reader.read_line(&mut line).unwrap();
                        if line.trim().is_empty() {
                            break;
                        }
                        let lower = line.to_ascii_lowercase();
                        if let Some(v) = lower.strip_prefix("content-length:") {
                            length = v.trim().parse().unwrap();
                        }
                    }
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).unwrap();
                    assert_eq!(path, "/v1/traces", "OTLP/HTTP sends traces there");
                    sink.lock()
                        .unwrap()
                        .push(ExportTraceServiceRequest::decode(body.as_slice()).unwrap());
                    stream
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n")
                        .unwrap();
                }
            });
        }
    });
    (url, got)
}

fn attr(span: &Span, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|a| a.key == key)
        .and_then(|a| a.value.as_ref()?.value.clone())
        .map(|v| match v {
            Value::StringValue(s) => s,
            Value::IntValue(i) => i.to_string(),
            other => format!("{other:?}"),
        })
}

#[test]
fn a_workflow_run_exports_a_span_per_run_and_step_to_a_real_receiver() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(d, &["env", "add", "web", "--agent", "echo {prompt}"]);
    let file = d.join("ci.yaml");
    std::fs::write(
        &file,
        "name: ci\nenvironment: web\nsteps:\n  - id: build\n    shell: 'echo building'\n  - id: review\n    needs: build\n    agent: 'review the build'\n  - id: flaky\n    needs: build\n    continue_on_failure: true\n    shell: 'exit 3'\n",
    )
    .unwrap();
    ok(d, &["workflow", "apply", file.to_str().unwrap()]);
    let (url, got) = receiver();
    let run = command(d, &["workflow", "start", "ci", "--follow"])
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &url)
        .env("OTEL_SERVICE_NAME", "flightdeck-under-test")
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );

    // Flushed before the command exited.
    let requests = got.lock().unwrap().clone();
    let resource_spans: Vec<_> = requests.iter().flat_map(|r| &r.resource_spans).collect();
    let service = resource_spans
        .iter()
        .flat_map(|r| &r.resource.as_ref().unwrap().attributes)
        .find(|a| a.key == "service.name")
        .and_then(|a| a.value.clone()?.value);
    assert_eq!(
        service,
        Some(Value::StringValue("flightdeck-under-test".into()))
    );
    let spans: Vec<Span> = resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| s.spans.clone())
        .collect();
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

    // A collector that is gone costs the run nothing: it succeeds all the same.
    let dead = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let again = command(d, &["workflow", "start", "ci", "--follow"])
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &dead)
        .output()
        .unwrap();
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}
