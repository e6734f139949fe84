//! The built-in embedder against reference vectors computed in Python from the same weights
//! (scripts/minilm_reference.py), and its sense of meaning.

#[path = "common/memory.rs"]
mod model;

use flightdeck_core::memory::embed::cosine;
use flightdeck_core::memory::Embedder;

#[derive(serde::Deserialize)]
struct Fixture {
    dimension: usize,
    sentences: Vec<Sentence>,
}

#[derive(serde::Deserialize)]
struct Sentence {
    text: String,
    embedding: Vec<f32>,
}

#[test]
fn vectors_match_the_python_reference() {
    let fixture: Fixture =
        serde_json::from_str(include_str!("fixtures/minilm_reference.json")).unwrap();
    let texts: Vec<&str> = fixture.sentences.iter().map(|s| s.text.as_str()).collect();
    // One batch of mixed lengths: padding must not change any vector.
    let ours = model::minilm().embed(&texts).unwrap();
    assert_eq!(model::minilm().dimension(), fixture.dimension);
    for (s, v) in fixture.sentences.iter().zip(&ours) {
        assert_eq!(v.len(), fixture.dimension);
        let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "not normalised: {norm}");
        let c = cosine(v, &s.embedding);
        assert!(c >= 0.999, "cosine {c} for {:?}", s.text);
    }
    // Alone, without batch padding, the same vectors: a short text alone takes the row-dot
    // linear layers (`memory/bert.rs`), a batch takes gemm.
    for (s, batched) in fixture.sentences.iter().zip(&ours) {
        let single = model::minilm().embed(&[s.text.as_str()]).unwrap().remove(0);
        let c = cosine(&single, &s.embedding);
        assert!(c >= 0.999, "alone: cosine {c} for {:?}", s.text);
        assert!(
            cosine(&single, batched) >= 0.9999,
            "alone vs batched: {:?}",
            s.text
        );
    }
}

#[test]
fn paraphrases_are_closer_than_unrelated_sentences() {
    let pairs = [
        (
            "The build fails because the linker runs out of memory.",
            "Linking crashes with an out-of-memory error during compilation.",
        ),
        (
            "Restart the database after changing its configuration.",
            "Config changes to Postgres only apply once the DB is restarted.",
        ),
        (
            "The user wants dark mode in the settings page.",
            "Add a dark theme option to the preferences screen.",
        ),
        (
            "Tests are flaky when run in parallel.",
            "Running the test suite concurrently gives intermittent failures.",
        ),
    ];
    let unrelated = [
        "Bananas are rich in potassium.",
        "The train to Paris leaves at nine.",
        "She painted the fence bright green.",
    ];
    let m = model::minilm();
    for (a, b) in pairs {
        let vs = m.embed(&[a, b]).unwrap();
        let para = cosine(&vs[0], &vs[1]);
        for u in unrelated {
            let vu = m.embed(&[u]).unwrap();
            let other = cosine(&vs[0], &vu[0]);
            assert!(
                para > other + 0.2,
                "{a:?}~{b:?} = {para}, vs {u:?} = {other}"
            );
        }
        // The paraphrase is also closer than the other pairs' sentences.
        for (c, _) in pairs.iter().filter(|(c, _)| *c != a) {
            let vc = m.embed(&[c]).unwrap();
            assert!(para > cosine(&vs[0], &vc[0]), "{a:?} vs {c:?}");
        }
    }
}

#[test]
fn long_texts_are_truncated_not_rejected() {
    let long = "word ".repeat(2000);
    let v = model::minilm().embed(&[&long, "short"]).unwrap();
    assert_eq!(v.len(), 2);
    assert_eq!(v[0].len(), 384);
}
