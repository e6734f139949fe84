//! The synthetic memory corpus the memory benchmarks share: texts drawn from the model's own
//! vocabulary with Zipf frequencies, and random unit vectors to import beside them.

use flightdeck_core::memory;
use flightdeck_types::NewMemory;
use rand::Rng;

/// Distinct words in the synthetic corpus, drawn by rank with Zipf's law (exponent 1), as
/// words are in real text: a few very common, most rare. (A tiny vocabulary would make every
/// query match nearly every memory, which no real corpus does.)
const VOCABULARY: usize = 20_000;

/// The first [`VOCABULARY`] whole English words of the model's own vocabulary (lower-case,
/// 3+ letters), in its order, which is by frequency ("the", "and", "was", ...): real words
/// that the tokenizer keeps whole, as in real text, so a query embeds as real queries do.
pub fn vocabulary() -> Vec<String> {
    let dir = memory::embed::default_model_dir().expect("set FLIGHTDECK_MODEL_DIR");
    let text = std::fs::read_to_string(dir.join("tokenizer.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut words: Vec<(u64, &str)> = json["model"]["vocab"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(w, _)| w.len() >= 3 && w.bytes().all(|b| b.is_ascii_lowercase()))
        .map(|(w, id)| (id.as_u64().unwrap(), w.as_str()))
        .collect();
    words.sort();
    assert!(words.len() >= VOCABULARY, "{} words", words.len());
    words[..VOCABULARY]
        .iter()
        .map(|(_, w)| w.to_string())
        .collect()
}

/// Samples word ranks with P(rank r) proportional to 1 / (r + 1).
pub struct Zipf {
    cdf: Vec<f64>,
    words: Vec<String>,
}

impl Zipf {
    pub fn new(words: Vec<String>) -> Zipf {
        let n = words.len();
        let mut total = 0.0;
        let mut cdf: Vec<f64> = (0..n)
            .map(|r| {
                total += 1.0 / (r as f64 + 1.0);
                total
            })
            .collect();
        cdf.iter_mut().for_each(|c| *c /= total);
        Zipf { cdf, words }
    }

    pub fn sample(&self, rng: &mut impl Rng) -> usize {
        let u: f64 = rng.random();
        self.cdf.partition_point(|c| *c < u).min(self.cdf.len() - 1)
    }

    pub fn text(&self, rng: &mut impl Rng, words: usize) -> String {
        (0..words)
            .map(|_| self.words[self.sample(rng)].as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// `n` memories of 12 words, each with a random unit vector of `dimension`, in chunks of
/// 5,000 for `memory::import_with_vectors`.
#[allow(dead_code)] // the memory bench imports its own, keeping the vectors
pub fn memories(
    rng: &mut impl Rng,
    zipf: &Zipf,
    n: usize,
    dimension: usize,
) -> Vec<Vec<(NewMemory, Vec<f32>)>> {
    (0..n.div_ceil(5_000))
        .map(|chunk| {
            (0..5_000.min(n - chunk * 5_000))
                .map(|_| {
                    (
                        NewMemory {
                            content: zipf.text(rng, 12),
                            ..Default::default()
                        },
                        unit_vector(rng, dimension),
                    )
                })
                .collect()
        })
        .collect()
}

/// A random vector of length 1.
pub fn unit_vector(rng: &mut impl Rng, dimension: usize) -> Vec<f32> {
    let mut v: Vec<f32> = (0..dimension)
        .map(|_| rng.random_range(-1.0f32..1.0))
        .collect();
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= norm);
    v
}
