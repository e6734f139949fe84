//! The document against the router and the wire types.

use std::collections::BTreeSet;
use std::path::Path;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use flightdeck_types::sync::{
    Announcement, ErrorBody, ErrorDetail, JoinRequest, JoinResponse, PullResponse, PushRequest,
    PushResponse, WireChange, WireValue,
};
use tower::ServiceExt;

use super::*;

/// Every `.route("PATH", METHOD(` in the crate's sources, as (path, method).
fn routes_in_source() -> BTreeSet<(String, String)> {
    fn scan(dir: &Path, found: &mut BTreeSet<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                scan(&path, found);
                continue;
            }
            let source = std::fs::read_to_string(&path).unwrap();
            for piece in source.split(".route(\"").skip(1) {
                let (route, rest) = piece.split_once('"').unwrap();
                let rest = rest.trim_start_matches([',', ' ', '\n']);
                let method: String = rest.chars().take_while(char::is_ascii_alphabetic).collect();
                found.insert((route.to_owned(), method));
            }
        }
    }
    let mut found = BTreeSet::new();
    scan(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut found,
    );
    // The doc comment above names a route `PATH`, not a path.
    found.retain(|(route, _)| route.starts_with('/'));
    found
}

fn routes_in_document(document: &Value) -> BTreeSet<(String, String)> {
    document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| (path.clone(), method.clone()))
        })
        .collect()
}

#[test]
fn the_document_names_exactly_the_routes_in_the_source() {
    let document = document();
    assert!(document["openapi"].as_str().unwrap().starts_with("3.0"));
    let in_source = routes_in_source();
    assert!(in_source.len() >= 8, "{in_source:?}");
    assert_eq!(routes_in_document(&document), in_source);
}

#[tokio::test]
async fn the_router_serves_every_documented_route_and_the_document_itself() {
    let pool = crate::db::pool("host=/nonexistent-flightdeck port=1 user=none").unwrap();
    let app = crate::app::router(AppState::new(pool));
    for (path, method) in routes_in_document(&document()) {
        let method: Method = method.to_uppercase().parse().unwrap();
        let request = Request::builder()
            .method(method.clone())
            .uri(&path)
            .body(Body::empty())
            .unwrap();
        let status = app.clone().oneshot(request).await.unwrap().status();
        assert!(
            status != StatusCode::NOT_FOUND && status != StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}: {status}"
        );
    }
    assert_eq!(served_document(app).await, document());
}

/// `GET /v1/openapi.json` through the router, parsed.
async fn served_document(app: axum::Router) -> Value {
    let request = Request::get("/v1/openapi.json")
        .body(Body::empty())
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    serde_json::from_slice(&bytes).unwrap()
}

/// The JSON paths of every schema property and every parameter without a description.
fn undescribed(value: &Value, path: &str, found: &mut Vec<String>) {
    let described = |item: &Value| {
        item["description"]
            .as_str()
            .is_some_and(|d| !d.trim().is_empty())
    };
    match value {
        Value::Object(map) => {
            if let Some(Value::Object(properties)) = map.get("properties") {
                for (name, property) in properties {
                    if !described(property) {
                        found.push(format!("{path}/properties/{name}"));
                    }
                }
            }
            if let Some(Value::Array(parameters)) = map.get("parameters") {
                for (index, parameter) in parameters.iter().enumerate() {
                    if !described(parameter) {
                        found.push(format!("{path}/parameters/{index}"));
                    }
                }
            }
            for (key, child) in map {
                undescribed(child, &format!("{path}/{key}"), found);
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                undescribed(item, &format!("{path}/{index}"), found);
            }
        }
        _ => {}
    }
}

#[tokio::test]
async fn every_served_schema_property_and_parameter_has_a_description() {
    let pool = crate::db::pool("host=/nonexistent-flightdeck port=1 user=none").unwrap();
    let served = served_document(crate::app::router(AppState::new(pool))).await;
    let mut missing = Vec::new();
    undescribed(&served, "#", &mut missing);
    assert!(missing.is_empty(), "no description: {missing:?}");
    // Nested ones are found too (the walk can fail).
    let sample = json!({ "a": [{ "properties": { "x": { "type": "string" },
        "y": { "type": "string", "description": "y" } } }], "parameters": [{ "name": "p" }] });
    undescribed(&sample, "#", &mut missing);
    assert_eq!(missing, ["#/parameters/0", "#/a/0/properties/x"]);
    // Every field of the wire change, the one clients build most, is in the document.
    let change = &served["components"]["schemas"]["WireChange"]["properties"];
    for name in [
        "table",
        "pk",
        "cid",
        "val",
        "col_version",
        "db_version",
        "site_id",
        "cl",
        "seq",
    ] {
        assert!(change[name]["description"].is_string(), "{name}");
    }
}

#[test]
fn refs_resolve_and_schemas_match_the_wire_types() {
    let document = document();
    let text = document.to_string();
    for piece in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = piece.split('"').next().unwrap();
        assert!(
            document["components"]["schemas"][name].is_object(),
            "{name}"
        );
    }
    let change = WireChange {
        table: "tasks".into(),
        pk: "0101".into(),
        cid: "title".into(),
        val: WireValue::Null,
        col_version: 1,
        db_version: 1,
        site_id: "aa".repeat(16),
        cl: 1,
        seq: 0,
    };
    let samples = [
        ("WireChange", serde_json::to_value(&change).unwrap()),
        (
            "PushRequest",
            serde_json::to_value(PushRequest {
                changes: vec![change.clone()],
            })
            .unwrap(),
        ),
        (
            "JoinRequest",
            serde_json::to_value(JoinRequest {
                join_token: "j".into(),
                device_name: "d".into(),
                site_id: "s".into(),
            })
            .unwrap(),
        ),
        (
            "JoinResponse",
            serde_json::to_value(JoinResponse {
                workspace_id: "w".into(),
                workspace_name: "n".into(),
                device_id: "d".into(),
                device_token: "t".into(),
                peers: vec![],
            })
            .unwrap(),
        ),
        (
            "Announcement",
            serde_json::to_value(Announcement {
                head: 2,
                after: Some(1),
                changes: Some(vec![change]),
            })
            .unwrap(),
        ),
        (
            "PushResponse",
            serde_json::to_value(PushResponse {
                acknowledged_db_version: 1,
                seq: None,
                head: 1,
            })
            .unwrap(),
        ),
        (
            "PullResponse",
            serde_json::to_value(PullResponse {
                changes: vec![],
                next: 0,
                head: 0,
            })
            .unwrap(),
        ),
        (
            "ErrorBody",
            serde_json::to_value(ErrorBody {
                error: ErrorDetail {
                    code: "c".into(),
                    message: "m".into(),
                },
            })
            .unwrap(),
        ),
    ];
    for (name, sample) in samples {
        let schema = &document["components"]["schemas"][name];
        let documented: BTreeSet<&String> =
            schema["properties"].as_object().unwrap().keys().collect();
        let actual: BTreeSet<&String> = sample.as_object().unwrap().keys().collect();
        assert_eq!(documented, actual, "{name}");
    }
}
