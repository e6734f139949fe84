//! Switching models: a second embedder (an OpenAI-compatible endpoint served by a real local
//! axum server, 64 dimensions) replaces the built-in one; the vectors are rebuilt with progress.
//! Run under scripts/with-keyring.sh: the endpoint's key is read from the OS keyring.

mod common;
#[path = "common/memory.rs"]
mod model;

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use common::{exchange, temp_store};
use flightdeck_core::memory::{self, Embedder, HttpEmbedder, HttpEmbedderConfig};
use flightdeck_core::secrets::{OsKeyring, SecretStore};
use flightdeck_types::{MemoryFilter, NewMemory, SearchMode};
use serde_json::{json, Value};

const DIM: usize = 64;

/// A bag-of-words vector: each word adds 1 to a bucket picked by its FNV hash.
fn bag(text: &str) -> Vec<f32> {
    let mut v = vec![0.0f32; DIM];
    for w in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in w.to_lowercase().bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
        v[(h % DIM as u64) as usize] += 1.0;
    }
    v
}

#[derive(Clone, Default)]
struct Seen {
    auth: Arc<Mutex<Vec<String>>>,
    /// Every text the server was asked to embed, in order.
    inputs: Arc<Mutex<Vec<String>>>,
}

async fn embeddings(
    State(seen): State<Seen>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Json<Value> {
    let auth = headers
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("")
        .to_string();
    seen.auth.lock().unwrap().push(auth);
    let inputs: Vec<String> = match &body["input"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .map(|v| v.as_str().unwrap_or("").to_string())
            .collect(),
        _ => Vec::new(),
    };
    seen.inputs.lock().unwrap().extend(inputs.iter().cloned());
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, t)| json!({"object": "embedding", "index": i, "embedding": bag(t)}))
        .collect();
    Json(json!({"object": "list", "data": data, "model": body["model"]}))
}

/// Serves on 127.0.0.1:0 from a thread with its own runtime; returns the base URL.
fn serve(seen: Seen) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let app = Router::new()
                .route("/v1/embeddings", post(embeddings))
                .with_state(seen);
            axum::serve(listener, app).await.unwrap();
        });
    });
    format!("http://{addr}/v1")
}

#[test]
fn switching_to_another_model_rebuilds_the_vectors() {
    let (_d, store) = temp_store();
    let minilm = model::minilm() as &dyn Embedder;
    for c in [
        "The backup job runs at midnight.",
        "Standup is at 9:30.",
        "Invoices go out on the first.",
    ] {
        memory::add(
            &store,
            Some(minilm),
            NewMemory {
                content: c.into(),
                ..Default::default()
            },
        )
        .unwrap();
    }
    assert_eq!(
        memory::indexed_model(&store).unwrap(),
        Some(("all-MiniLM-L6-v2".into(), 384))
    );

    let seen = Seen::default();
    let base_url = serve(seen.clone());
    let keyring = OsKeyring::from_env().unwrap();
    let account = format!("test/embeddings/{}", uuid::Uuid::now_v7());
    keyring.set(&account, "sk-local-test").unwrap();
    let http = HttpEmbedder::connect(
        &HttpEmbedderConfig {
            base_url: base_url.clone(),
            model: "bag-64".into(),
            key_account: Some(account.clone()),
        },
        &keyring,
    )
    .unwrap();
    keyring.delete(&account).unwrap();
    assert_eq!(http.dimension(), DIM);
    assert!(seen
        .auth
        .lock()
        .unwrap()
        .iter()
        .all(|a| a == "Bearer sk-local-test"));

    // Before the reindex, the index belongs to the old model: the new one cannot use it.
    let before = memory::search(
        &store,
        Some(&http),
        "backup midnight",
        &MemoryFilter::default(),
        3,
    )
    .unwrap();
    assert_eq!(before.mode, SearchMode::KeywordOnly);

    let mut calls = Vec::new();
    let n = memory::reindex(&store, &http, |done, total| calls.push((done, total))).unwrap();
    assert_eq!(n, 3);
    assert_eq!(calls.first(), Some(&(0, 3)));
    assert_eq!(calls.last(), Some(&(3, 3)));
    assert_eq!(
        memory::indexed_model(&store).unwrap(),
        Some((format!("bag-64@{base_url}"), DIM))
    );

    let after = memory::search(
        &store,
        Some(&http),
        "when does the backup job run",
        &MemoryFilter::default(),
        3,
    )
    .unwrap();
    assert_eq!(after.mode, SearchMode::Hybrid);
    assert_eq!(
        after.hits[0].memory.content,
        "The backup job runs at midnight."
    );
    assert!(after.hits[0].vector_rank == Some(1));

    // And back: index_pending alone notices the model change and rebuilds.
    assert_eq!(memory::index_pending(&store, Some(minilm)).unwrap(), 3);
    let back = memory::search(
        &store,
        Some(minilm),
        "what time is the daily meeting",
        &MemoryFilter::default(),
        1,
    )
    .unwrap();
    assert_eq!(back.mode, SearchMode::Hybrid);
    assert_eq!(back.hits[0].memory.content, "Standup is at 9:30.");
}

#[test]
fn a_missing_key_is_a_clear_error() {
    let keyring = OsKeyring::from_env().unwrap();
    let err = HttpEmbedder::connect(
        &HttpEmbedderConfig {
            base_url: "http://127.0.0.1:9/v1".into(),
            model: "m".into(),
            key_account: Some("test/embeddings/none".into()),
        },
        &keyring,
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("keyring"), "{err}");
}

#[test]
fn synced_rows_whose_text_did_not_change_keep_their_vectors() {
    let (_da, a) = temp_store();
    let (_db, b) = temp_store();
    let seen = Seen::default();
    let http = HttpEmbedder::connect(
        &HttpEmbedderConfig {
            base_url: serve(seen.clone()),
            model: "bag-64".into(),
            key_account: None,
        },
        &OsKeyring::from_env().unwrap(),
    )
    .unwrap();
    let add = |content: &str| {
        memory::add(
            &a,
            Some(&http),
            NewMemory {
                content: content.into(),
                ..Default::default()
            },
        )
        .unwrap()
    };
    let backup = add("The backup job runs at midnight.");
    add("Standup is at 9:30.");
    exchange(&a, &b);
    let embedded = || std::mem::take(&mut *seen.inputs.lock().unwrap());
    embedded();
    assert_eq!(memory::index_pending(&b, Some(&http)).unwrap(), 2);
    assert_eq!(embedded().len(), 2, "new rows are embedded");

    // Archived on A: B's entry is brought up to date without embedding the same text again.
    memory::archive(&a, &backup.id).unwrap();
    exchange(&a, &b);
    assert_eq!(memory::index_pending(&b, Some(&http)).unwrap(), 1);
    assert_eq!(embedded(), Vec::<String>::new());
    let found = memory::search(
        &b,
        Some(&http),
        "backup midnight",
        &MemoryFilter {
            include_archived: true,
            ..Default::default()
        },
        1,
    )
    .unwrap();
    assert_eq!(found.hits[0].memory.id, backup.id);
    assert_eq!(found.hits[0].vector_rank, Some(1), "the vector was kept");
    embedded(); // the query

    // New text is embedded.
    a.write(|w| {
        w.execute(
            "UPDATE memories SET content = 'The backup job runs at noon.', \
             updated_at = updated_at + 1 WHERE id = ?1",
            [&backup.id],
        )?;
        Ok(())
    })
    .unwrap();
    exchange(&a, &b);
    assert_eq!(memory::index_pending(&b, Some(&http)).unwrap(), 1);
    assert_eq!(embedded(), ["The backup job runs at noon."]);
}
