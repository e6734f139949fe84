//! Embedders: the built-in all-MiniLM-L6-v2 run with candle on the CPU, and an
//! OpenAI-compatible `/v1/embeddings` client.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use super::bert::{Bert, Config};
use crate::error::{CoreError, Result};
use crate::secrets::SecretStore;

/// Turns texts into vectors of a fixed dimension. Vectors are L2-normalised.
pub trait Embedder: Send + Sync {
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>>;
    /// Recorded with the index: a different name means the vectors must be rebuilt.
    fn name(&self) -> &str;
    fn dimension(&self) -> usize;
}

/// Env var naming the model directory (holding model.safetensors, tokenizer.json, config.json).
pub const MODEL_DIR_ENV: &str = "FLIGHTDECK_MODEL_DIR";
pub const MINILM_NAME: &str = "all-MiniLM-L6-v2";
/// sentence-transformers' `max_seq_length` for this model.
const MAX_TOKENS: usize = 256;
const BATCH: usize = 32;

/// Where the built-in model is: `$FLIGHTDECK_MODEL_DIR`, else `<data dir>/models/...`, else
/// `<bin>/../share/flightdeck/models/...` (the packages), else `<repo>/.deps/models/...`
/// (development checkouts). `None` when none holds the weights.
pub fn default_model_dir() -> Option<PathBuf> {
    find_model_dir(None)
}

/// As [`default_model_dir`], with `data_dir` (a `--data-dir`) in place of the default data dir.
///
/// A set `$FLIGHTDECK_MODEL_DIR` is the only place looked at: pointing it at a directory
/// without weights is how a person (or a test) runs without a model, and a typo there should
/// show as "no model" rather than silently loading another copy from elsewhere.
pub fn find_model_dir(data_dir: Option<&Path>) -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(MODEL_DIR_ENV).filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        return dir.join("model.safetensors").is_file().then_some(dir);
    }
    let mut candidates = Vec::new();
    match data_dir {
        Some(data) => candidates.push(data.join("models").join(MINILM_NAME)),
        None => {
            if let Ok(data) = crate::paths::default_data_dir() {
                candidates.push(data.join("models").join(MINILM_NAME));
            }
        }
    }
    // Where the packages install it: `/usr/share/flightdeck/models` for `/usr/bin/flightdeck`.
    if let Some(bin) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        candidates.push(bin.join("../share/flightdeck/models").join(MINILM_NAME));
    }
    candidates.push(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../.deps/models")
            .join(MINILM_NAME),
    );
    candidates
        .into_iter()
        .find(|d| d.join("model.safetensors").is_file())
}

/// The built-in model for code that has no embedder of its own (the runner recording a run's
/// memories, sync indexing what it pulled): loaded on first use, once per process, because
/// loading costs far more than embedding a few memories. `None` when no model is installed or
/// it does not load; that is logged once and the memory indexes stay full-text only.
pub fn shared_default() -> Option<&'static dyn Embedder> {
    static MODEL: std::sync::OnceLock<Option<MiniLm>> = std::sync::OnceLock::new();
    MODEL
        .get_or_init(|| match MiniLm::load_default() {
            Ok(model) => Some(model),
            Err(e) => {
                tracing::warn!(error = %e, "memory search is keyword-only");
                None
            }
        })
        .as_ref()
        .map(|m| m as &dyn Embedder)
}

/// all-MiniLM-L6-v2: BERT, mean pooling over the attention mask, L2 normalisation.
pub struct MiniLm {
    model: Bert,
    tokenizer: Tokenizer,
    device: Device,
}

fn model_err(what: &str, dir: &Path, e: impl std::fmt::Display) -> CoreError {
    CoreError::Embedding(format!(
        "cannot load {what} from {}: {e}; run scripts/setup.sh or set {MODEL_DIR_ENV}",
        dir.display()
    ))
}

impl MiniLm {
    /// Loads the model from [`default_model_dir`].
    pub fn load_default() -> Result<Self> {
        let dir = default_model_dir().ok_or_else(|| {
            CoreError::Embedding(format!(
                "no {MINILM_NAME} model found; run scripts/setup.sh or set {MODEL_DIR_ENV} to \
                 the directory holding model.safetensors"
            ))
        })?;
        Self::load(&dir)
    }

    pub fn load(dir: &Path) -> Result<Self> {
        let device = Device::Cpu;
        let config_text = std::fs::read_to_string(dir.join("config.json"))
            .map_err(|e| model_err("config.json", dir, e))?;
        let config: Config =
            serde_json::from_str(&config_text).map_err(|e| model_err("config.json", dir, e))?;
        let weights = std::fs::read(dir.join("model.safetensors"))
            .map_err(|e| model_err("model.safetensors", dir, e))?;
        let tensors = candle_core::safetensors::load_buffer(&weights, &device)
            .map_err(|e| model_err("model.safetensors", dir, e))?;
        drop(weights);
        let model =
            Bert::load(tensors, &config).map_err(|e| model_err("the BERT weights", dir, e))?;
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|e| model_err("tokenizer.json", dir, e))?;
        // tokenizer.json pads every input to 128; pad to the longest in the batch instead.
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..Default::default()
        }));
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..Default::default()
            }))
            .map_err(|e| model_err("tokenizer.json", dir, e))?;
        Ok(Self {
            model,
            tokenizer,
            device,
        })
    }

    fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let err = |e: &dyn std::fmt::Display| CoreError::Embedding(format!("{MINILM_NAME}: {e}"));
        // One text (a search query) skips encode_batch's thread-pool round trip.
        let encodings = match texts {
            [one] => vec![self.tokenizer.encode(*one, true).map_err(|e| err(&e))?],
            _ => self
                .tokenizer
                .encode_batch(texts.to_vec(), true)
                .map_err(|e| err(&e))?,
        };
        let len = encodings.first().map_or(0, |e| e.get_ids().len());
        let mut ids = Vec::with_capacity(texts.len() * len);
        let mut mask = Vec::with_capacity(texts.len() * len);
        for e in &encodings {
            ids.extend(e.get_ids().iter().copied());
            mask.extend(e.get_attention_mask().iter().copied());
        }
        let shape = (texts.len(), len);
        let ids = Tensor::from_vec(ids, shape, &self.device).map_err(|e| err(&e))?;
        let mask = Tensor::from_vec(mask, shape, &self.device).map_err(|e| err(&e))?;
        // One text has no padding: its attention needs no mask.
        let padded = texts.len() > 1;
        let run = || -> candle_core::Result<Vec<Vec<f32>>> {
            let hidden = self.model.forward(&ids, padded.then_some(&mask))?; // [B, T, H]
            let m = mask.to_dtype(DType::F32)?.unsqueeze(2)?; // [B, T, 1]
            let summed = hidden.broadcast_mul(&m)?.sum(1)?; // [B, H]
            let counts = m.sum(1)?; // [B, 1]
            let mean = summed.broadcast_div(&counts)?;
            let norm = mean.sqr()?.sum_keepdim(1)?.sqrt()?;
            mean.broadcast_div(&norm)?.to_vec2::<f32>()
        };
        run().map_err(|e| err(&e))
    }
}

impl Embedder for MiniLm {
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        // Batches of similar lengths waste less work on padding.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].len());
        let mut out = vec![Vec::new(); texts.len()];
        for chunk in order.chunks(BATCH) {
            let batch: Vec<&str> = chunk.iter().map(|&i| texts[i]).collect();
            for (i, v) in chunk.iter().zip(self.embed_batch(&batch)?) {
                out[*i] = v;
            }
        }
        Ok(out)
    }
    fn name(&self) -> &str {
        MINILM_NAME
    }
    fn dimension(&self) -> usize {
        384
    }
}

/// Settings of an OpenAI-compatible embeddings endpoint (OpenAI, Ollama's `/v1`).
#[derive(Debug, Clone)]
pub struct HttpEmbedderConfig {
    /// e.g. `http://127.0.0.1:11434/v1` or `https://api.openai.com/v1`.
    pub base_url: String,
    pub model: String,
    /// Keyring account of the API key; `None` sends no key (local servers).
    pub key_account: Option<String>,
}

/// Calls `POST {base_url}/embeddings`. Blocking: call it off async executors.
pub struct HttpEmbedder {
    client: reqwest::blocking::Client,
    url: String,
    model: String,
    key: Option<String>,
    name: String,
    dimension: usize,
}

#[derive(serde::Deserialize)]
struct EmbeddingsResponse {
    data: Vec<EmbeddingItem>,
}

#[derive(serde::Deserialize)]
struct EmbeddingItem {
    index: usize,
    embedding: Vec<f32>,
}

impl HttpEmbedder {
    /// Reads the key from `secrets` and learns the dimension with one probe request.
    pub fn connect(config: &HttpEmbedderConfig, secrets: &dyn SecretStore) -> Result<Self> {
        let key = match &config.key_account {
            Some(account) => Some(secrets.get(account)?.ok_or_else(|| {
                CoreError::Embedding(format!(
                    "no API key in the keyring under `{account}`; store it there first"
                ))
            })?),
            None => None,
        };
        let mut embedder = Self {
            client: reqwest::blocking::Client::new(),
            url: format!("{}/embeddings", config.base_url.trim_end_matches('/')),
            model: config.model.clone(),
            key,
            name: format!("{}@{}", config.model, config.base_url),
            dimension: 0,
        };
        let probe = embedder.request(&["dimension probe"])?;
        embedder.dimension = probe[0].len();
        Ok(embedder)
    }

    fn request(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let err = |m: String| CoreError::Embedding(format!("{}: {m}", self.url));
        let mut req = self
            .client
            .post(&self.url)
            .json(&serde_json::json!({"model": self.model, "input": texts}));
        if let Some(key) = &self.key {
            req = req.bearer_auth(key);
        }
        let resp = req.send().map_err(|e| err(e.to_string()))?;
        let status = resp.status();
        if !status.is_success() {
            let body = resp.text().unwrap_or_default();
            return Err(err(format!("HTTP {status}: {body}")));
        }
        let body: EmbeddingsResponse = resp.json().map_err(|e| err(e.to_string()))?;
        if body.data.len() != texts.len() {
            return Err(err(format!(
                "{} vectors for {} inputs",
                body.data.len(),
                texts.len()
            )));
        }
        let mut out = vec![Vec::new(); texts.len()];
        for item in body.data {
            let slot = out
                .get_mut(item.index)
                .ok_or_else(|| err(format!("vector index {} out of range", item.index)))?;
            *slot = normalise(item.embedding);
        }
        Ok(out)
    }
}

fn normalise(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

impl Embedder for HttpEmbedder {
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(64) {
            let vs = self.request(chunk)?;
            if let Some(v) = vs.iter().find(|v| v.len() != self.dimension) {
                return Err(CoreError::Embedding(format!(
                    "{}: a vector of {} dimensions, expected {}",
                    self.url,
                    v.len(),
                    self.dimension
                )));
            }
            out.extend(vs);
        }
        Ok(out)
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn dimension(&self) -> usize {
        self.dimension
    }
}

/// Cosine similarity of two L2-normalised vectors.
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum()
}
