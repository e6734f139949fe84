//! `GET /v1/openapi.json`: the API described in OpenAPI 3.0, written by hand next to the
//! handlers. A test checks that it names exactly the routes the router serves.

use axum::routing::get;
use axum::{Json, Router};
use flightdeck_types::sync::{PROTOCOL_HEADER, PROTOCOL_VERSION, SCHEMA_HEADER};
use serde_json::{json, Value};

use crate::app::{AppState, MAX_BODY_BYTES};

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/openapi.json", get(|| async { Json(document()) }))
}

fn schema(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn json_body(name: &str, description: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": schema(name) } },
    })
}

fn error(description: &str) -> Value {
    json_body("ErrorBody", description)
}

/// The errors every authenticated `/v1` route may answer.
fn device_errors() -> Value {
    json!({
        "400": error("protocol_mismatch (the protocol header names another version), bad_request"),
        "401": error("unauthorized: missing or unknown device token"),
        "403": error("device_revoked"),
        "503": error("unavailable: no database connection"),
    })
}

fn merge(mut base: Value, extra: Value) -> Value {
    if let (Some(base), Value::Object(extra)) = (base.as_object_mut(), extra) {
        base.extend(extra);
    }
    base
}

/// The whole document.
pub fn document() -> Value {
    let bearer = json!([{ "deviceToken": [] }]);
    let protocol = json!({
        "name": PROTOCOL_HEADER, "in": "header", "required": false,
        "description": format!("The client's protocol version; this server speaks {PROTOCOL_VERSION}. \
                        Another version is refused with 400 protocol_mismatch."),
        "schema": { "type": "integer", "example": PROTOCOL_VERSION },
    });
    let schema_header = json!({
        "name": SCHEMA_HEADER, "in": "header", "required": false,
        "description": "The client's local schema version (its newest applied local migration); recorded per device and listed by /v1/devices. Absent: an older client, still served.",
        "schema": { "type": "integer" },
    });
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Flightdeck sync server",
            "version": env!("CARGO_PKG_VERSION"),
            "description": format!("Relays and compacts cr-sqlite change sets between a workspace's \
                devices. Every error body is {{\"error\": {{\"code\", \"message\"}}}}. Request \
                bodies over {MAX_BODY_BYTES} bytes are refused with 413."),
        },
        "paths": {
            "/v1/join": { "post": {
                "summary": "Trade a workspace join token for this device's own token",
                "parameters": [protocol],
                "requestBody": merge(json_body("JoinRequest", "The join token and the device"), json!({"required": true})),
                "responses": {
                    "200": json_body("JoinResponse", "The device token, shown once"),
                    "400": error("invalid_json, bad_request (site_id, device_name), protocol_mismatch"),
                    "401": error("unauthorized: unknown or revoked join token"),
                    "413": error("payload_too_large"),
                    "415": error("unsupported_media_type"),
                    "503": error("unavailable"),
                },
            }},
            "/v1/push": { "post": {
                "summary": "Push this device's own changes, whole db_versions at a time (one db_version too large for a request comes in consecutive parts)",
                "security": bearer,
                "parameters": [protocol, schema_header],
                "requestBody": merge(json_body("PushRequest", "Changes sorted by db_version"), json!({"required": true})),
                "responses": merge(device_errors(), json!({
                    "200": json_body("PushResponse", "Acknowledged; seq is null when nothing changed"),
                    "403": error("device_revoked, site_id_mismatch (a change of another site)"),
                    "413": error("payload_too_large"),
                    "415": error("unsupported_media_type"),
                })),
            }},
            "/v1/pull": { "get": {
                "summary": "The winning cells changed after a sequence number, in whole sequences",
                "security": bearer,
                "parameters": [
                    protocol,
                    schema_header,
                    { "name": "after", "in": "query", "required": false,
                      "schema": { "type": "integer", "format": "int64", "minimum": 0, "default": 0 } },
                    { "name": "limit", "in": "query", "required": false,
                      "description": "Cells per page (a page may exceed it to end a sequence)",
                      "schema": { "type": "integer", "format": "int64", "minimum": 1, "maximum": 10000, "default": 1000 } },
                ],
                "responses": merge(device_errors(), json!({
                    "200": json_body("PullResponse", "A page; next < head means more pages wait"),
                })),
            }},
            "/v1/devices": { "get": {
                "summary": "The devices of the caller's workspace, with the local schema version each last sent",
                "security": bearer,
                "parameters": [protocol, schema_header],
                "responses": merge(device_errors(), json!({
                    "200": json_body("DevicesResponse", "Every device of the workspace, revoked ones too"),
                })),
            }},
            "/v1/ws": { "get": {
                "summary": "WebSocket announcing the workspace's head",
                "description": "Authenticated before the upgrade, by the Authorization header or \
                    the token query parameter. After the upgrade the server sends text frames \
                    {\"head\": N} (schema Announcement): the current head at once, then every \
                    newer head (intermediate heads may be skipped for a slow socket, never the \
                    newest). The server pings every 20 s and closes a socket silent for 40 s. \
                    Frames from the client are ignored; a close frame ends the socket. \
                    Revoking the device closes its open sockets with code 4403.",
                "security": [{ "deviceToken": [] }, { "deviceTokenQuery": [] }],
                "parameters": [
                    protocol,
                    { "name": "Upgrade", "in": "header", "required": true, "schema": { "type": "string", "enum": ["websocket"] } },
                ],
                "responses": merge(device_errors(), json!({
                    "101": {
                        "description": "Switching protocols; then Announcement text frames",
                        "content": { "application/json": { "schema": schema("Announcement") } },
                    },
                    "426": error("upgrade_required: not a WebSocket handshake"),
                })),
            }},
            "/v1/openapi.json": { "get": {
                "summary": "This document",
                "responses": { "200": { "description": "OpenAPI 3.0", "content": { "application/json": { "schema": { "type": "object" } } } } },
            }},
            "/healthz": { "get": {
                "summary": "The process is up",
                "responses": { "200": json_body("Health", "status ok") },
            }},
            "/readyz": { "get": {
                "summary": "The process is up and its database answers",
                "responses": {
                    "200": json_body("Health", "status ready"),
                    "503": error("unavailable: database not reachable"),
                },
            }},
            "/metrics": { "get": {
                "summary": "Prometheus text exposition",
                "description": "flightdeck_sync_pushes_total, flightdeck_sync_cells_in_total, \
                    flightdeck_sync_cells_out_total, flightdeck_sync_pulls_total, \
                    flightdeck_sync_announcements_total (counters of this process); \
                    flightdeck_sync_connected_sockets (gauge of this process); \
                    flightdeck_sync_device_last_seen_seconds and flightdeck_sync_device_lag \
                    (gauges per unrevoked device, labels workspace and device, from the database).",
                "responses": {
                    "200": { "description": "Metrics", "content": { "text/plain": { "schema": { "type": "string" } } } },
                    "503": error("unavailable"),
                },
            }},
        },
        "components": {
            "securitySchemes": {
                "deviceToken": { "type": "http", "scheme": "bearer", "description": "The device token from /v1/join" },
                "deviceTokenQuery": { "type": "apiKey", "in": "query", "name": "token", "description": "The device token, for /v1/ws clients that cannot set headers" },
            },
            "schemas": schemas(),
        },
    })
}

fn schemas() -> Value {
    let int64 = json!({ "type": "integer", "format": "int64" });
    let string = json!({ "type": "string" });
    let hex = json!({ "type": "string", "pattern": "^([0-9a-f]{2})*$" });
    let object = |properties: Value, required: &[&str]| json!({ "type": "object", "properties": properties, "required": required });
    let tagged = |kind: &str, value: Value| {
        let mut properties = json!({ "type": { "type": "string", "enum": [kind] } });
        let mut required = vec!["type"];
        if !value.is_null() {
            properties["value"] = value;
            required.push("value");
        }
        object(properties, &required)
    };
    json!({
        "WireValue": { "oneOf": [
            tagged("null", Value::Null),
            tagged("integer", int64.clone()),
            tagged("real", json!({ "type": "number", "format": "double" })),
            tagged("text", string.clone()),
            tagged("blob", hex.clone()),
        ]},
        "WireChange": object(json!({
            "table": string, "pk": hex, "cid": string, "val": schema("WireValue"),
            "col_version": int64, "db_version": int64, "site_id": hex, "cl": int64, "seq": int64,
        }), &["table", "pk", "cid", "val", "col_version", "db_version", "site_id", "cl", "seq"]),
        "JoinRequest": object(json!({ "join_token": string, "device_name": string, "site_id": hex }),
            &["join_token", "device_name", "site_id"]),
        "JoinResponse": object(json!({
            "workspace_id": string, "workspace_name": string, "device_id": string, "device_token": string,
        }), &["workspace_id", "workspace_name", "device_id", "device_token"]),
        "PushRequest": object(json!({ "changes": { "type": "array", "items": schema("WireChange") } }), &["changes"]),
        "PushResponse": object(json!({
            "acknowledged_db_version": int64,
            "seq": { "type": "integer", "format": "int64", "nullable": true },
            "head": int64,
        }), &["acknowledged_db_version", "seq", "head"]),
        "PullResponse": object(json!({
            "changes": { "type": "array", "items": schema("WireChange") }, "next": int64, "head": int64,
        }), &["changes", "next", "head"]),
        "DeviceInfo": object(json!({
            "device_id": string, "name": string, "site_id": hex,
            "schema_version": { "type": "integer", "format": "int64", "nullable": true, "description": "The local schema version the device last sent (header x-flightdeck-schema), null if never" },
            "last_seen_at": { "type": "string", "nullable": true, "description": "When the device last pulled" },
            "revoked": { "type": "boolean", "description": "Whether the device was revoked" },
        }), &["device_id", "name", "site_id", "schema_version", "last_seen_at", "revoked"]),
        "DevicesResponse": object(json!({ "devices": { "type": "array", "items": schema("DeviceInfo") } }), &["devices"]),
        "Announcement": object(json!({ "head": int64 }), &["head"]),
        "Health": object(json!({ "status": string, "version": string }), &["status", "version"]),
        "ErrorBody": object(json!({ "error": object(json!({ "code": string, "message": string }), &["code", "message"]) }), &["error"]),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use axum::body::Body;
    use axum::http::{Method, Request, StatusCode};
    use flightdeck_types::sync::{
        Announcement, ErrorBody, ErrorDetail, PullResponse, PushResponse,
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
                    let method: String =
                        rest.chars().take_while(char::is_ascii_alphabetic).collect();
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
        let request = Request::get("/v1/openapi.json")
            .body(Body::empty())
            .unwrap();
        let response = app.oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let bytes = http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes();
        let served: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(served, document());
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
        let samples = [
            (
                "Announcement",
                serde_json::to_value(Announcement { head: 1 }).unwrap(),
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
}
