//! `search_memory` through `flightdeck mcp` over stdio (BENCHMARKS.md "Agents at work"): the
//! real binary as a child process, driven by the official Rust SDK's client, over 100,000
//! memories; beside it, in the same run, the same searches in-process (the peer: what the MCP
//! server adds is the round trip, JSON-RPC and the tool's JSON).
//!
//! The corpus is the memory bench's (synthetic texts, random unit vectors imported directly);
//! the queries are embedded for real in both, and the relevance floor is 0 so that every
//! search ranks its candidates and returns hits.
//!
//!   FLIGHTDECK_MODEL_DIR=... cargo bench -p flightdeck-cli --bench mcp
//!   (FLIGHTDECK_BENCH_MEMORIES=N changes the corpus size)

use std::time::Instant;

use flightdeck_core::memory::{self, Embedder, MiniLm};
use flightdeck_core::Store;
use flightdeck_types::MemoryFilter;
use rand::SeedableRng;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use rmcp::ServiceExt;

#[path = "../../core/benches/common/corpus.rs"]
mod corpus;

const QUERIES: usize = 200;

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn report(what: &str, mut times: Vec<f64>) -> f64 {
    times.sort_by(f64::total_cmp);
    let p50 = pct(&times, 0.5);
    println!(
        "{what}: p50 {p50:.1} ms, p90 {:.1} ms, p99 {:.1} ms ({} searches)",
        pct(&times, 0.9),
        pct(&times, 0.99),
        times.len()
    );
    p50
}

fn main() {
    let model =
        MiniLm::load_default().expect("set FLIGHTDECK_MODEL_DIR to the all-MiniLM-L6-v2 dir");
    let n: usize = std::env::var("FLIGHTDECK_BENCH_MEMORIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let zipf = corpus::Zipf::new(corpus::vocabulary());
    let data = tempfile::tempdir().unwrap();
    {
        let store = Store::open_workspace(Some(data.path()), "default").unwrap();
        memory::ensure_model(&store, &model).unwrap();
        let t = Instant::now();
        for chunk in corpus::memories(&mut rng, &zipf, n, model.dimension()) {
            memory::import_with_vectors(&store, &chunk).unwrap();
        }
        memory::set_relevance_floor(&store, 0.0).unwrap();
        println!(
            "imported {n} memories in {:.1} s",
            t.elapsed().as_secs_f64()
        );
    }
    let queries: Vec<String> = (0..QUERIES).map(|_| zipf.text(&mut rng, 4)).collect();

    // In-process: the store and the model loaded once, as the MCP server holds them.
    let store = Store::open_workspace(Some(data.path()), "default").unwrap();
    let search = |q: &str| {
        memory::search_with_floor(&store, Some(&model), q, &MemoryFilter::default(), 8, 0.0)
            .unwrap()
    };
    search(&queries[0]); // loads the int8 copy of the vectors, as the server's first search does
    let in_process: Vec<f64> = queries
        .iter()
        .map(|q| {
            let t = Instant::now();
            assert!(!search(q).hits.is_empty());
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    let local = report(&format!("in-process search over {n}"), in_process);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let over_mcp = runtime.block_on(async {
        let bin = env!("CARGO_BIN_EXE_flightdeck");
        let command = tokio::process::Command::new(bin).configure(|c| {
            c.arg("--data-dir")
                .arg(data.path())
                .arg("mcp")
                .env_remove("FLIGHTDECK_WORKSPACE");
        });
        let client = ().serve(TokioChildProcess::new(command).unwrap()).await.unwrap();
        let call = |q: &str| {
            let args = serde_json::json!({ "query": q, "limit": 8 });
            CallToolRequestParams::new("search_memory")
                .with_arguments(args.as_object().unwrap().clone())
        };
        // The server loads the model and the vectors on its first search; not timed.
        client.call_tool(call(&queries[0])).await.unwrap();
        let mut times = Vec::with_capacity(QUERIES);
        for q in &queries {
            let t = Instant::now();
            let result = client.call_tool(call(q)).await.unwrap();
            times.push(t.elapsed().as_secs_f64() * 1e3);
            let text = &result.content[0].as_text().expect("a text block").text;
            let answer: serde_json::Value = serde_json::from_str(text).unwrap();
            assert!(!answer["hits"].as_array().unwrap().is_empty(), "{text}");
        }
        client.cancel().await.unwrap();
        times
    });
    let mcp = report(&format!("search_memory over MCP stdio, {n}"), over_mcp);
    println!(
        "MCP round trip adds {:.1} ms at p50 ({:.2}x the in-process search); budget p50 <= 30 ms",
        mcp - local,
        mcp / local
    );
}
