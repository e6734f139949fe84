//! The BERT encoder of all-MiniLM-L6-v2 on candle tensors, tuned for short inputs.
//!
//! The layers are candle's (embedding lookup, layer norm, attention, GELU). What differs from
//! `candle_transformers`' `BertModel` is the linear layer for a few rows (a search query): gemm
//! first re-packs the whole weight matrix with strided scalar loads on every call, half of a
//! query's embedding time, on one core. [`RowDot`] reads each weight row in place instead, on
//! every core, so a short input costs one parallel pass over the weights. Batches (indexing)
//! keep candle's matrix product. The query, key and value weights are one matrix.

use std::collections::HashMap;

use candle_core::{CpuStorage, CustomOp2, DType, Layout, Shape, Tensor};
use serde::Deserialize;

/// Up to this many rows a linear layer runs as [`RowDot`], above it candle's gemm, which packs
/// the weights once and reuses them across many rows. Chosen, not tuned: a search query has
/// about 10 rows, an indexing batch hundreds; lengths in between were not measured.
const ROW_DOT_MAX_ROWS: usize = 32;

/// The fields of the model's `config.json` that this encoder reads.
#[derive(Debug, Deserialize)]
pub(crate) struct Config {
    hidden_size: usize,
    num_attention_heads: usize,
    num_hidden_layers: usize,
    layer_norm_eps: f64,
    hidden_act: String,
}

struct Linear {
    /// `[out, in]`, as stored.
    weight: Tensor,
    bias: Tensor,
}

struct Norm {
    weight: Tensor,
    bias: Tensor,
}

struct Layer {
    /// Query, key and value stacked: `[3 * hidden, hidden]`.
    qkv: Linear,
    attention_out: Linear,
    attention_norm: Norm,
    intermediate: Linear,
    output: Linear,
    output_norm: Norm,
}

pub(crate) struct Bert {
    word: Tensor,
    position: Tensor,
    token_type: Tensor,
    norm: Norm,
    layers: Vec<Layer>,
    hidden: usize,
    heads: usize,
    eps: f32,
}

/// Weights by name, with or without the `bert.` prefix some exports carry.
struct Weights(HashMap<String, Tensor>);

impl Weights {
    fn get(&self, name: &str) -> candle_core::Result<Tensor> {
        self.0
            .get(name)
            .or_else(|| self.0.get(&format!("bert.{name}")))
            .cloned()
            .ok_or_else(|| candle_core::Error::Msg(format!("no tensor named {name}")))
    }
    fn linear(&self, prefix: &str) -> candle_core::Result<Linear> {
        Ok(Linear {
            weight: self.get(&format!("{prefix}.weight"))?,
            bias: self.get(&format!("{prefix}.bias"))?,
        })
    }
    fn norm(&self, prefix: &str) -> candle_core::Result<Norm> {
        Ok(Norm {
            weight: self.get(&format!("{prefix}.weight"))?,
            bias: self.get(&format!("{prefix}.bias"))?,
        })
    }
}

impl Bert {
    pub(crate) fn load(
        tensors: HashMap<String, Tensor>,
        config: &Config,
    ) -> candle_core::Result<Self> {
        if config.hidden_act != "gelu" {
            candle_core::bail!(
                "hidden_act {:?} is not supported (only \"gelu\")",
                config.hidden_act
            );
        }
        if config.num_attention_heads == 0 || config.hidden_size % config.num_attention_heads != 0 {
            candle_core::bail!("hidden_size is not a multiple of num_attention_heads");
        }
        let w = Weights(tensors);
        let layers = (0..config.num_hidden_layers)
            .map(|i| {
                let p = format!("encoder.layer.{i}");
                let attention = |part: &str| w.linear(&format!("{p}.attention.self.{part}"));
                let (q, k, v) = (attention("query")?, attention("key")?, attention("value")?);
                Ok(Layer {
                    qkv: Linear {
                        weight: Tensor::cat(&[&q.weight, &k.weight, &v.weight], 0)?,
                        bias: Tensor::cat(&[&q.bias, &k.bias, &v.bias], 0)?,
                    },
                    attention_out: w.linear(&format!("{p}.attention.output.dense"))?,
                    attention_norm: w.norm(&format!("{p}.attention.output.LayerNorm"))?,
                    intermediate: w.linear(&format!("{p}.intermediate.dense"))?,
                    output: w.linear(&format!("{p}.output.dense"))?,
                    output_norm: w.norm(&format!("{p}.output.LayerNorm"))?,
                })
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(Self {
            word: w.get("embeddings.word_embeddings.weight")?,
            position: w.get("embeddings.position_embeddings.weight")?,
            token_type: w.get("embeddings.token_type_embeddings.weight")?,
            norm: w.norm("embeddings.LayerNorm")?,
            layers,
            hidden: config.hidden_size,
            heads: config.num_attention_heads,
            eps: config.layer_norm_eps as f32,
        })
    }

    /// Hidden states `[batch, tokens, hidden]` for token ids `[batch, tokens]` (u32) whose
    /// padding is 0 in `mask` (same shape; `None` when nothing is padded). All token types 0.
    pub(crate) fn forward(
        &self,
        ids: &Tensor,
        mask: Option<&Tensor>,
    ) -> candle_core::Result<Tensor> {
        let (batch, tokens) = ids.dims2()?;
        let positions: Vec<u32> = (0..batch).flat_map(|_| 0..tokens as u32).collect();
        let positions = Tensor::from_vec(positions, batch * tokens, ids.device())?;
        let x = self
            .word
            .index_select(&ids.flatten_all()?, 0)?
            .add(&self.position.index_select(&positions, 0)?)?
            .broadcast_add(&self.token_type.get(0)?)?;
        let mut x = self.norm(&x, &self.norm)?;
        // Padding gets the lowest score before the softmax: [batch, 1, 1, tokens].
        let mask = match mask {
            Some(m) => Some(
                m.to_dtype(DType::F32)?
                    .affine(-f64::from(f32::MIN), f64::from(f32::MIN))?
                    .reshape((batch, 1, 1, tokens))?,
            ),
            None => None,
        };
        for layer in &self.layers {
            x = self.layer(&x, layer, batch, tokens, mask.as_ref())?;
        }
        x.reshape((batch, tokens, self.hidden))
    }

    /// One encoder layer over `x`, `[batch * tokens, hidden]`.
    fn layer(
        &self,
        x: &Tensor,
        layer: &Layer,
        batch: usize,
        tokens: usize,
        mask: Option<&Tensor>,
    ) -> candle_core::Result<Tensor> {
        let head = self.hidden / self.heads;
        let qkv = linear(x, &layer.qkv)?;
        let split = |i: usize| {
            qkv.narrow(1, i * self.hidden, self.hidden)?
                .reshape((batch, tokens, self.heads, head))?
                .transpose(1, 2)?
                .contiguous()
        };
        let (q, k, v) = (split(0)?, split(1)?, split(2)?);
        let mut scores = (q.matmul(&k.t()?)? / (head as f64).sqrt())?;
        if let Some(m) = mask {
            scores = scores.broadcast_add(m)?;
        }
        let context = candle_nn::ops::softmax_last_dim(&scores)?
            .matmul(&v)?
            .transpose(1, 2)?
            .contiguous()?
            .reshape((batch * tokens, self.hidden))?;
        let attended = linear(&context, &layer.attention_out)?.add(x)?;
        let attended = self.norm(&attended, &layer.attention_norm)?;
        let inner = linear(&attended, &layer.intermediate)?.gelu_erf()?;
        let out = linear(&inner, &layer.output)?.add(&attended)?;
        self.norm(&out, &layer.output_norm)
    }

    fn norm(&self, x: &Tensor, norm: &Norm) -> candle_core::Result<Tensor> {
        candle_nn::ops::layer_norm(x, &norm.weight, &norm.bias, self.eps)
    }
}

/// `x Wᵀ + b` for `x` of `[rows, in]`.
fn linear(x: &Tensor, layer: &Linear) -> candle_core::Result<Tensor> {
    let product = if x.dim(0)? <= ROW_DOT_MAX_ROWS {
        x.contiguous()?.apply_op2_no_bwd(&layer.weight, &RowDot)?
    } else {
        x.matmul(&layer.weight.t()?)?
    };
    product.broadcast_add(&layer.bias)
}

/// `x Wᵀ` for a few rows of `x` (`[rows, in]`) and `W` as stored (`[out, in]`, row-major):
/// every output is the dot product of two contiguous rows, so each weight row is read once,
/// straight from memory, and the rows of `W` are shared out between rayon's threads.
struct RowDot;

/// Weight rows per parallel task.
const ROW_DOT_CHUNK: usize = 64;

impl CustomOp2 for RowDot {
    fn name(&self) -> &'static str {
        "row-dot"
    }

    fn cpu_fwd(
        &self,
        x: &CpuStorage,
        x_layout: &Layout,
        w: &CpuStorage,
        w_layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        use rayon::prelude::*;
        let (rows, inner) = x_layout.shape().dims2()?;
        let (out, w_inner) = w_layout.shape().dims2()?;
        if inner != w_inner {
            candle_core::bail!("row-dot: input has {inner} columns, the weight {w_inner}");
        }
        if rows == 0 || out == 0 || inner == 0 {
            // Nothing to multiply (and rayon's chunks must not be empty).
            return Ok((
                CpuStorage::F32(vec![0.0; rows * out]),
                Shape::from((rows, out)),
            ));
        }
        let x = contiguous_f32(x, x_layout)?;
        let w = contiguous_f32(w, w_layout)?;
        // Computed as [out, rows], one output row per weight row, then transposed.
        let mut by_weight = vec![0f32; out * rows];
        by_weight
            .par_chunks_mut(ROW_DOT_CHUNK * rows)
            .zip(w.par_chunks(ROW_DOT_CHUNK * inner))
            .for_each(|(dst, w)| dots(w, x, dst, inner));
        let mut y = vec![0f32; rows * out];
        for (o, column) in by_weight.chunks_exact(rows).enumerate() {
            for (r, v) in column.iter().enumerate() {
                y[r * out + o] = *v;
            }
        }
        Ok((CpuStorage::F32(y), Shape::from((rows, out))))
    }
}

fn contiguous_f32<'a>(s: &'a CpuStorage, layout: &Layout) -> candle_core::Result<&'a [f32]> {
    let (start, end) = layout
        .contiguous_offsets()
        .ok_or_else(|| candle_core::Error::Msg("row-dot needs contiguous inputs".into()))?;
    Ok(&s.as_slice::<f32>()?[start..end])
}

/// `dst[o * rows + r] = w[o] . x[r]` for the weight rows `w` and input rows `x` of `inner`.
fn dots(w: &[f32], x: &[f32], dst: &mut [f32], inner: usize) {
    #[cfg(target_arch = "x86_64")]
    if simd::dots(w, x, dst, inner) {
        return;
    }
    dots_portable(w, x, dst, inner);
}

fn dots_portable(w: &[f32], x: &[f32], dst: &mut [f32], inner: usize) {
    let rows = x.len() / inner;
    for (w_row, dst) in w.chunks_exact(inner).zip(dst.chunks_exact_mut(rows)) {
        for (x_row, d) in x.chunks_exact(inner).zip(dst.iter_mut()) {
            *d = w_row.iter().zip(x_row).map(|(a, b)| a * b).sum();
        }
    }
}

/// [`dots`] with AVX2 and FMA, chosen at run time (builds target baseline x86-64).
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod simd {
    use std::arch::x86_64::{
        __m256, _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_setzero_ps, _mm256_storeu_ps,
    };

    /// `false` when this CPU lacks AVX2 or FMA (nothing was written).
    pub(super) fn dots(w: &[f32], x: &[f32], dst: &mut [f32], inner: usize) -> bool {
        if !(std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")) {
            return false;
        }
        // SAFETY: AVX2 and FMA are present (checked just above), all that `compiled` needs.
        unsafe { compiled(w, x, dst, inner) };
        true
    }

    #[target_feature(enable = "avx2,fma")]
    fn compiled(w: &[f32], x: &[f32], dst: &mut [f32], inner: usize) {
        let rows = x.len() / inner;
        for (w_row, dst) in w.chunks_exact(inner).zip(dst.chunks_exact_mut(rows)) {
            let mut r = 0;
            while r < rows {
                let rows_here = &x[r * inner..];
                let d = &mut dst[r..];
                r += match rows - r {
                    1 => block::<1>(w_row, rows_here, inner, d),
                    2 => block::<2>(w_row, rows_here, inner, d),
                    3 => block::<3>(w_row, rows_here, inner, d),
                    _ => block::<4>(w_row, rows_here, inner, d),
                };
            }
        }
    }

    /// The first `N` rows of `x` dotted with `w`: each 8 loaded floats of `w` serve `N`
    /// products, and the `N` sums are independent chains of fused multiply-adds.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn block<const N: usize>(w: &[f32], x: &[f32], inner: usize, dst: &mut [f32]) -> usize {
        let mut acc: [__m256; N] = [_mm256_setzero_ps(); N];
        let whole = inner / 8 * 8;
        for k in (0..whole).step_by(8) {
            let wv = load8(&w[k..k + 8]);
            for (j, a) in acc.iter_mut().enumerate() {
                let at = j * inner + k;
                *a = _mm256_fmadd_ps(wv, load8(&x[at..at + 8]), *a);
            }
        }
        for (j, a) in acc.iter().enumerate() {
            let mut lanes = [0f32; 8];
            // SAFETY: `lanes` holds the 8 floats written.
            unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), *a) };
            let row = &x[j * inner..(j + 1) * inner];
            let tail: f32 = w[whole..]
                .iter()
                .zip(&row[whole..])
                .map(|(a, b)| a * b)
                .sum();
            dst[j] = lanes.iter().sum::<f32>() + tail;
        }
        N
    }

    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn load8(eight: &[f32]) -> __m256 {
        assert_eq!(eight.len(), 8);
        // SAFETY: `eight` holds the 8 floats read (asserted above; unaligned loads are fine).
        unsafe { _mm256_loadu_ps(eight.as_ptr()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn row_dot_matches_the_matrix_product() {
        let dev = Device::Cpu;
        let x = Tensor::arange(0f32, 5.0 * 20.0, &dev)
            .unwrap()
            .reshape((5, 20))
            .unwrap();
        let x = (x / 37.0).unwrap().sin().unwrap();
        let w = Tensor::arange(0f32, 130.0 * 20.0, &dev)
            .unwrap()
            .reshape((130, 20))
            .unwrap();
        let w = (w / 11.0).unwrap().cos().unwrap();
        let ours = x.apply_op2_no_bwd(&w, &RowDot).unwrap();
        let gemm = x.matmul(&w.t().unwrap()).unwrap();
        assert_eq!(ours.dims(), &[5, 130]);
        let diff = (ours - gemm).unwrap().abs().unwrap().max_all().unwrap();
        assert!(diff.to_scalar::<f32>().unwrap() < 1e-4);
    }
}
