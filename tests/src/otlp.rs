//! A real OTLP/HTTP receiver on 127.0.0.1 for the telemetry tests: each POST to `/v1/traces`
//! or `/v1/metrics` is decoded as the protocol's own `ExportTraceServiceRequest` or
//! `ExportMetricsServiceRequest` (protobuf).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

pub use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
pub use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
pub use opentelemetry_proto::tonic::metrics::v1::Metric;
pub use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;

/// What the receiver got.
#[derive(Default)]
pub struct Received {
    pub traces: Vec<ExportTraceServiceRequest>,
    pub metrics: Vec<ExportMetricsServiceRequest>,
}

/// Every metric of the requests received so far, by name.
pub fn metrics(got: &Mutex<Received>, name: &str) -> Vec<Metric> {
    got.lock()
        .unwrap()
        .metrics
        .iter()
        .flat_map(|r| &r.resource_metrics)
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| s.metrics.clone())
        .filter(|m| m.name == name)
        .collect()
}

/// Every span of the requests received so far.
pub fn spans(got: &Mutex<Received>) -> Vec<Span> {
    got.lock()
        .unwrap()
        .traces
        .iter()
        .flat_map(|r| &r.resource_spans)
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| s.spans.clone())
        .collect()
}

/// The `service.name` of the first resource received.
pub fn service_name(got: &Mutex<Received>) -> Option<String> {
    got.lock()
        .unwrap()
        .traces
        .iter()
        .flat_map(|r| &r.resource_spans)
        .filter_map(|r| r.resource.as_ref())
        .flat_map(|r| &r.attributes)
        .find(|a| a.key == "service.name")
        .and_then(|a| match a.value.clone()?.value? {
            Value::StringValue(s) => Some(s),
            _ => None,
        })
}

/// Accepts OTLP/HTTP exports on a free port; returns its URL and the requests received.
pub fn receiver() -> (String, Arc<Mutex<Received>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let got = Arc::new(Mutex::new(Received::default()));
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
                    let mut got = sink.lock().unwrap();
                    match path.as_str() {
                        "/v1/traces" => got
                            .traces
                            .push(ExportTraceServiceRequest::decode(body.as_slice()).unwrap()),
                        "/v1/metrics" => got
                            .metrics
                            .push(ExportMetricsServiceRequest::decode(body.as_slice()).unwrap()),
                        other => {
                            panic!("OTLP/HTTP posts to /v1/traces or /v1/metrics, not {other}")
                        }
                    }
                    drop(got);
                    stream
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n")
                        .unwrap();
                }
            });
        }
    });
    (url, got)
}

pub fn attr(span: &Span, key: &str) -> Option<String> {
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
