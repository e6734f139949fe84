#!/usr/bin/env python3
"""Computes reference sentence embeddings for all-MiniLM-L6-v2 with plain numpy (a BERT forward
pass re-implemented from the safetensors weights), mean pooling over the attention mask and L2
normalisation as sentence-transformers does. Writes crates/core/tests/fixtures/minilm_reference.json.

Usage: pip install --user numpy tokenizers safetensors
       python3 scripts/minilm_reference.py [MODEL_DIR]
"""
import json, math, os, sys
import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

SENTENCES = [
    "The cat sits on the mat.",
    "Deploy the service to production after the tests pass.",
    "Postgres connection pool exhausted under load; raise max_connections.",
    "A quick brown fox jumps over the lazy dog",
    "Use cargo clippy with -D warnings before committing Rust code.",
]

def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    model_dir = sys.argv[1] if len(sys.argv) > 1 else os.environ.get(
        "FLIGHTDECK_MODEL_DIR", os.path.join(root, ".deps/models/all-MiniLM-L6-v2"))
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    w = load_file(os.path.join(model_dir, "model.safetensors"))
    w = {k.removeprefix("bert."): v.astype(np.float64) for k, v in w.items()}
    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    tok.no_padding()  # tokenizer.json pads to 128; one sentence needs no padding
    tok.enable_truncation(256)
    heads = cfg["num_attention_heads"]
    eps = cfg["layer_norm_eps"]

    def ln(x, p):
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + eps) * w[p + ".weight"] + w[p + ".bias"]

    def lin(x, p):
        return x @ w[p + ".weight"].T + w[p + ".bias"]

    def gelu(x):  # exact (erf) GELU, as BERT's "gelu"
        return 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))

    out = []
    for s in SENTENCES:
        enc = tok.encode(s)
        ids = np.array(enc.ids)
        n = len(ids)
        x = (w["embeddings.word_embeddings.weight"][ids]
             + w["embeddings.position_embeddings.weight"][np.arange(n)]
             + w["embeddings.token_type_embeddings.weight"][np.zeros(n, dtype=int)])
        x = ln(x, "embeddings.LayerNorm")
        for i in range(cfg["num_hidden_layers"]):
            p = f"encoder.layer.{i}"
            q = lin(x, p + ".attention.self.query")
            k = lin(x, p + ".attention.self.key")
            v = lin(x, p + ".attention.self.value")
            d = q.shape[-1] // heads
            q = q.reshape(n, heads, d).transpose(1, 0, 2)
            k = k.reshape(n, heads, d).transpose(1, 0, 2)
            v = v.reshape(n, heads, d).transpose(1, 0, 2)
            a = q @ k.transpose(0, 2, 1) / math.sqrt(d)
            a = np.exp(a - a.max(-1, keepdims=True))
            a = a / a.sum(-1, keepdims=True)
            ctx = (a @ v).transpose(1, 0, 2).reshape(n, heads * d)
            x = ln(lin(ctx, p + ".attention.output.dense") + x, p + ".attention.output.LayerNorm")
            h = gelu(lin(x, p + ".intermediate.dense"))
            x = ln(lin(h, p + ".output.dense") + x, p + ".output.LayerNorm")
        e = x.mean(0)  # one sentence, no padding: the mask covers every token
        e = e / np.linalg.norm(e)
        out.append({"text": s, "embedding": [round(float(f), 7) for f in e]})
    path = os.path.join(root, "crates/core/tests/fixtures/minilm_reference.json")
    json.dump({"model": "all-MiniLM-L6-v2", "dimension": 384, "sentences": out}, open(path, "w"))
    print("wrote", path)

if __name__ == "__main__":
    main()
