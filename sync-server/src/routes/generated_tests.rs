//! Requests generated from the served OpenAPI document, against the real router and a real
//! Postgres: for every operation, bodies, query parameters, headers and tokens drawn from its
//! schemas (mostly well-formed, some with a field dropped, retyped or oversized). Whatever is
//! sent, the answer is never a 5xx, every error has the documented JSON shape, and no answer
//! to one workspace's device holds another workspace's data.
//!
//! The generator is seeded: a failure names its seed, and `FLIGHTDECK_GENERATED_SEED=N`
//! replays that one case.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use flightdeck_types::sync::{JoinResponse, PROTOCOL_HEADER};
use serde_json::{json, Map, Value};

use super::test_support::*;

/// Cases per run: about two seconds of requests on this machine.
const CASES: u64 = 400;

/// A small, fast, seedable generator (xorshift64*): enough for choosing among shapes.
/// `mutate` is drawn once per case: a case either keeps to the schema (only sizes and
/// contents vary, so it reaches the handlers and the database) or also breaks it.
struct Rng(u64, bool);

impl Rng {
    fn new(seed: u64) -> Rng {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1, false);
        rng.1 = rng.chance(40);
        rng
    }
    fn mutate(&mut self, percent: u64) -> bool {
        self.1 && self.chance(percent)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// What a generated request may use: the caller's own identity and tokens.
struct Context {
    own_site: String,
    own_token: String,
    other_token: String,
}

fn resolve<'a>(document: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let name = reference.rsplit('/').next().unwrap();
            &document["components"]["schemas"][name]
        }
        None => schema,
    }
}

fn hex_string(rng: &mut Rng, bytes: usize) -> String {
    (0..bytes)
        .map(|_| format!("{:02x}", rng.next() as u8))
        .collect()
}

fn string_for(rng: &mut Rng, schema: &Value, context: &Context) -> Value {
    if let Some(options) = schema.get("enum").and_then(Value::as_array) {
        if !rng.chance(10) {
            return rng.pick(options).clone();
        }
    }
    match schema.get("pattern").and_then(Value::as_str) {
        Some(pattern) if pattern.contains("{32}") => match rng.below(4) {
            _ if !rng.1 => json!(context.own_site),
            0 | 1 => json!(context.own_site),
            2 => json!(hex_string(rng, 16)),
            _ => {
                let bytes = rng.below(20);
                json!(hex_string(rng, bytes))
            }
        },
        Some(_) => {
            let length = *rng.pick(&[0, 1, 2, 16, 300, 2048, 2049, 5000]);
            let mut text = hex_string(rng, length);
            if rng.mutate(10) {
                text.push('z');
            }
            json!(text)
        }
        None => {
            let pool = [
                "tasks".to_string(),
                "title".to_string(),
                "-1".to_string(),
                String::new(),
                "a\0b".to_string(),
                "é 🚀".to_string(),
                "x".repeat(129),
                "y".repeat(3000),
                context.own_token.clone(),
                context.other_token.clone(),
            ];
            json!(rng.pick(&pool))
        }
    }
}

fn integer(rng: &mut Rng) -> Value {
    if rng.mutate(50) {
        return json!(rng.pick(&[-1, -100, i64::MIN]));
    }
    json!(rng.pick(&[0, 1, 2, 7, 1 << 40, i64::MAX]))
}

/// A value for `schema`; `depth` stops runaway nesting.
fn value_for(
    rng: &mut Rng,
    document: &Value,
    schema: &Value,
    context: &Context,
    depth: u32,
) -> Value {
    let schema = resolve(document, schema);
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        return value_for(rng, document, &all[0], context, depth);
    }
    if let Some(one) = schema.get("oneOf").and_then(Value::as_array) {
        let chosen = rng.pick(one).clone();
        return value_for(rng, document, &chosen, context, depth);
    }
    if schema.get("nullable") == Some(&json!(true)) && rng.chance(10) {
        return Value::Null;
    }
    // Now and then, the wrong type altogether.
    if rng.mutate(5) {
        return rng
            .pick(&[json!(null), json!("text"), json!(-3), json!([]), json!({})])
            .clone();
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("object") => {
            let mut object = Map::new();
            let required: Vec<&str> = schema["required"]
                .as_array()
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if let Some(properties) = schema["properties"].as_object() {
                for (name, property) in properties {
                    let is_required = required.contains(&name.as_str());
                    if (is_required && rng.mutate(5)) || (!is_required && rng.chance(50)) {
                        continue;
                    }
                    let value = value_for(rng, document, property, context, depth + 1);
                    object.insert(name.clone(), value);
                }
            }
            if rng.mutate(10) {
                object.insert("unknown_field".into(), json!(1));
            }
            Value::Object(object)
        }
        Some("array") if depth < 4 => {
            let count = *rng.pick(&[0, 1, 1, 2, 3]);
            Value::Array(
                (0..count)
                    .map(|_| value_for(rng, document, &schema["items"], context, depth + 1))
                    .collect(),
            )
        }
        Some("array") => json!([]),
        Some("integer") => integer(rng),
        Some("number") => json!(rng.pick(&[0.5, -1e300, 1e-300, 3.0])),
        Some("boolean") => json!(rng.chance(50)),
        Some("string") => string_for(rng, schema, context),
        _ => json!(null),
    }
}

fn query_for(rng: &mut Rng, parameters: &[Value]) -> String {
    let mut pairs = Vec::new();
    for parameter in parameters.iter().filter(|p| p["in"] == "query") {
        if rng.chance(30) {
            continue;
        }
        let value = match rng.below(6) {
            0 => "abc".to_string(),
            1 => String::new(),
            _ => integer(rng).to_string(),
        };
        pairs.push(format!("{}={value}", parameter["name"].as_str().unwrap()));
    }
    pairs.join("&")
}

/// One generated request for `path` and `method` (with the operation's document entry).
fn request_for(
    rng: &mut Rng,
    document: &Value,
    (path, method, operation): (&str, &str, &Value),
    context: &Context,
) -> Request<Body> {
    let parameters = operation["parameters"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let query = query_for(rng, &parameters);
    let uri = if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{query}")
    };
    let mut request = Request::builder()
        .method(method.to_uppercase().as_str())
        .uri(uri);
    match rng.below(10) {
        _ if !rng.1 => {
            request = request.header("authorization", format!("Bearer {}", context.own_token))
        }
        0 => {}
        1 => request = request.header("authorization", "Bearer fdd_not_a_token"),
        2 => request = request.header("authorization", "Basic abc"),
        _ => request = request.header("authorization", format!("Bearer {}", context.own_token)),
    }
    match rng.below(8) {
        _ if !rng.1 => request = request.header(PROTOCOL_HEADER, "1"),
        0 => request = request.header(PROTOCOL_HEADER, "2"),
        1 => request = request.header(PROTOCOL_HEADER, "x"),
        2 => {}
        _ => request = request.header(PROTOCOL_HEADER, "1"),
    }
    let body_schema = &operation["requestBody"]["content"]["application/json"]["schema"];
    if body_schema.is_null() {
        return request.body(Body::empty()).unwrap();
    }
    if !rng.mutate(10) {
        request = request.header("content-type", "application/json");
    }
    let body = match rng.below(20) {
        _ if !rng.1 => value_for(rng, document, body_schema, context, 0).to_string(),
        0 => "{\"changes\": [".to_string(),
        1 => "[]".to_string(),
        _ => value_for(rng, document, body_schema, context, 0).to_string(),
    };
    request.body(Body::from(body)).unwrap()
}

/// Every (path, method, operation) of the document that the router serves as JSON.
fn operations(document: &Value) -> Vec<(String, String, Value)> {
    let mut found = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        // The socket needs a real upgrade (ws_tests); metrics answer in Prometheus text.
        if path == "/v1/ws" || path == "/metrics" {
            continue;
        }
        for (method, operation) in item.as_object().unwrap() {
            found.push((path.clone(), method.clone(), operation.clone()));
        }
    }
    found
}

#[tokio::test]
async fn generated_requests_get_no_5xx_well_formed_errors_and_no_other_workspace_data() {
    let (server, join_token) = server_with_workspace().await;
    let other_join = server.create_workspace("other").await;
    let own: JoinResponse = server.join(&join_token, 1).await;
    let stranger: JoinResponse = server.join(&other_join, 2).await;
    // The other workspace's data, which nothing sent with our token may ever return.
    server
        .push(
            &stranger.device_token,
            &[change(
                2,
                "5ec7e7",
                "title",
                text("other workspace's secret"),
                1,
                1,
                1,
            )],
        )
        .await;
    let context = Context {
        own_site: site(1),
        own_token: own.device_token.clone(),
        other_token: stranger.device_token.clone(),
    };
    let (status, document) = server
        .send(
            Request::get("/v1/openapi.json")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let operations = operations(&document);
    assert!(operations.len() >= 5, "{operations:?}");

    let seeds: Vec<u64> = match std::env::var("FLIGHTDECK_GENERATED_SEED") {
        Ok(seed) => vec![seed.parse().unwrap()],
        Err(_) => (0..CASES).collect(),
    };
    let mut statuses = std::collections::BTreeMap::new();
    for seed in seeds {
        let mut rng = Rng::new(seed);
        let (path, method, operation) = rng.pick(&operations).clone();
        let request = request_for(&mut rng, &document, (&path, &method, &operation), &context);
        let described = format!("seed {seed}: {} {}", request.method(), request.uri());
        let (status, body) = server.send(request).await;
        *statuses.entry(status.as_u16()).or_insert(0) += 1;
        assert!(!status.is_server_error(), "{described} -> {status}: {body}");
        if status.is_client_error() {
            assert!(
                body["error"]["code"]
                    .as_str()
                    .is_some_and(|c| !c.is_empty())
                    && body["error"]["message"].is_string(),
                "{described} -> {status} without the error shape: {body}"
            );
        }
        let text = body.to_string();
        assert!(
            !text.contains(&stranger.device_id) && !text.contains("5ec7e7"),
            "{described} -> another workspace's data: {text}"
        );
    }
    // The generator reached the handlers, not only the refusals in front of them.
    assert!(
        statuses.get(&200).copied().unwrap_or(0) > 20,
        "{statuses:?}"
    );
    assert!(
        statuses.keys().filter(|s| **s >= 400).count() >= 3,
        "{statuses:?}"
    );

    // Whatever was accepted stayed in our workspace: the stranger sees only its own cell.
    let theirs = server.bootstrap(&stranger.device_token).await;
    assert_eq!(theirs.len(), 1, "{theirs:?}");
    assert_eq!(theirs[0].site_id, site(2));
}
