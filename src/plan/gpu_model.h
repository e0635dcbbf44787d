// An analytic model of LLM decode on GPUs: how long one decode step of a batch takes on an
// inference unit of `gpus_per_unit` GPUs running the model tensor-parallel, hence tokens/s per
// user and per unit, and whether the weights and KV cache fit. It feeds `lockstep plan`'s GPU
// side (USD per million tokens against tokens/s per user, Figure 11 of the source report).
//
// Inputs: a model shape (model::ModelConfig, e.g. from model/catalog.h), the weight precision,
// the KV cache precision (bytes per value), the context length ctx (tokens every sequence
// attends to at the step; memory is checked for the same ctx, so pass the longest context the
// unit must hold, e.g. prompt + answer), a GPU preset (plan/gpu_preset.h), u = gpus_per_unit and
// the batch size B (sequences decoded together, one token each per step).
//
// Formulas (every quantity per decode step; "u" GPUs share the work evenly):
//   P          = model.parameter_count()                       resident parameters
//   P_stream   = P - (tied_embeddings ? 0 : n_vocab x n_embd)   parameters read every step (the
//                input embedding is a gather of B rows, not a stream of the table)
//   w          = bytes per weight: fp16/bf16 2, fp8 1, int8 1, fp4 0.5 (scales ignored)
//   kv_tok     = 2 x n_layer x n_head_kv x head_dim x kv_bytes   KV bytes of one token (K and V)
//   s          = min(u, n_head_kv)   GPUs the KV heads are split over (beyond n_head_kv GPUs,
//                KV heads are replicated, so KV per GPU stops shrinking)
//   hbm_s      = (P_stream x w / u + B x ctx x kv_tok / s) / (hbm_bytes_per_s x hbm_efficiency)
//   flops      = 2 x P_stream x B + 4 x n_layer x n_head x head_dim x ctx x B
//                (2 flops per weight per token, plus Q.K^T and P.V over the context)
//   compute_s  = flops / (u x peak(precision) x flops_efficiency)
//   overhead_s = n_layer x per_layer_overhead_s                  launch + sync gaps
//   allreduce_s = u == 1 ? 0 : 2 x n_layer x (allreduce_latency_s
//                 + 2 x (u - 1) / u x B x n_embd x 2 bytes / nvlink_bytes_per_s)
//                (two all-reduces per layer, after attention and after the FFN, of the fp16
//                residual-width activations of B tokens, as a ring all-reduce moves them; the
//                LM head's logits gather is left out)
//   step_s     = max(hbm_s, compute_s) + overhead_s + allreduce_s
//   tokens/s per user = 1 / step_s; tokens/s per unit = B / step_s
//   joules per token (GPU boards only) = u x power_w x step_s / B
//   memory per GPU = P x w / u + B x ctx x kv_tok / s, which must be <= hbm_bytes x
//                hbm_usable_fraction (the rest: CUDA context, activations, workspaces)
// peak(precision): fp16 -> peak_flops_fp16; fp8 -> peak_flops_fp8; int8 -> peak_ops_int8;
// fp4 -> peak_flops_fp4; a GPU without that peak (0 in its preset: fp8/fp4 on A100, fp4 on
// H100, int8 on B300) runs the weights weight-only, dequantised to fp16 math: peak_flops_fp16.
// Not modelled: prefill (prompt processing) steps interleaved with decode, speculative decoding,
// MoE routing (the catalog has only dense models), pipeline parallelism, KV paging waste.
//
// Sanity check against published figures (h100-sxm.yaml's assumptions, ctx 2048, KV fp16; the
// numbers are pinned by tests/plan/gpu_model_test.cpp, GpuModelTest.Sanity*):
//   Llama-2-70B, 8 x H100, batch 1: fp16 108 tokens/s per user (step 9.25 ms: HBM 6.44, launch
//     1.20, all-reduce 1.61); fp8 165 tokens/s. Public figures for 70B-class dense models on
//     8 x H100, as recalled (not re-checked; no network here): inference vendors' late-2023
//     claims of ~100-120 tokens/s per stream for Llama-2-70B-chat, and 2024 provider benchmarks
//     (Artificial Analysis) of ~30-150 tokens/s for Llama-3/3.1-70B under real load. The model
//     is the unloaded best case: at the top of that band, within ~1.5x of the fastest figures.
//   Llama-2-70B fp8, 2 x H100, batch 64: 41.7 tokens/s per user, 2,666 per unit. The report's
//     Figure 11 "GPU throughput" column (2 x H100 per unit, batch 64) says 30 and 1,920, for
//     SemiAnalysis' model (not named in the digest; probably Mixtral 8x7B, which Groq served at
//     ~500 tokens/s in early 2024; not in the catalog): the same order, ~1.4x optimistic.
//   Llama-3.1-8B fp16, 1 x H100, batch 1: 162 tokens/s per user (16 GB of weights at 3.35 TB/s
//     x 0.8 = 5.7 ms, plus 0.5 ms of launch gaps); published single-stream vLLM / TensorRT-LLM
//     runs on H100 report ~150-200.
//   Figure 11's "GPU low-latency" column (8 x H100, batch 2, 420 tokens/s per user) is,
//     if the model is Mixtral 8x7B, a Mixture-of-Experts model (~13B active parameters) this
//     dense-only model cannot reproduce.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "model/model_config.h"
#include "plan/gpu_preset.h"

namespace lockstep::plan {

enum class GpuPrecision { Fp16, Fp8, Int8, Fp4 };

// "fp16" or "bf16" (Fp16), "fp8", "int8", "fp4"; throws lockstep::Error naming the choices.
GpuPrecision parse_gpu_precision(std::string_view text);
std::string_view gpu_precision_name(GpuPrecision p);
double bytes_per_weight(GpuPrecision p);  // 2, 1, 1, 0.5

// Upper bounds on the inputs: more is a typo, not a deployment.
inline constexpr std::int64_t kMaxDecodeBatch = 4096;
inline constexpr std::int64_t kMaxContextTokens = std::int64_t{1} << 24;
inline constexpr int kMaxGpusPerUnit = 1024;

struct DecodeSetup {
  model::ModelConfig model;
  GpuPrecision weights = GpuPrecision::Fp16;
  double kv_bytes_per_value = 2;     // fp16/bf16 KV cache; 1 for an fp8 KV cache
  std::int64_t context_tokens = 0;   // ctx, tokens
  int gpus_per_unit = 1;             // u, tensor-parallel degree
  std::int64_t batch = 1;            // B, sequences per step
};

struct DecodeStep {
  std::int64_t batch = 0;
  int gpus_per_unit = 0;
  std::string_view compute_precision;  // the peak used: "fp16" when weight-only
  double weight_bytes_per_gpu = 0;     // resident, P x w / u
  double kv_bytes_per_gpu = 0;         // B x ctx x kv_tok / s
  double memory_bytes_per_gpu = 0;     // their sum
  double usable_bytes_per_gpu = 0;     // hbm_bytes x hbm_usable_fraction
  bool fits = false;                   // memory_bytes_per_gpu <= usable_bytes_per_gpu
  double flops = 0;                    // whole unit
  double hbm_s = 0;
  double compute_s = 0;
  double overhead_s = 0;
  double allreduce_s = 0;
  double step_s = 0;
  bool memory_bound = false;           // hbm_s >= compute_s
  double tokens_per_s_per_user = 0;
  double tokens_per_s_per_unit = 0;
  double joules_per_token = 0;         // GPU boards only (not host, network, cooling)
};

// Parameter counts and bytes of the formulas above.
double streamed_parameters(const model::ModelConfig& m);             // P_stream
double kv_bytes_per_token(const model::ModelConfig& m, double kv_bytes_per_value);  // kv_tok

// One decode step. Throws lockstep::Error on inputs out of range (batch, ctx, u, KV bytes, a
// model with a zero width); a setup that does not fit is computed anyway with fits == false.
DecodeStep decode_step(const DecodeSetup& setup, const GpuPreset& gpu);

// The largest batch (<= kMaxDecodeBatch) whose weights + KV fit, 0 when not even B = 1 fits.
// setup.batch is ignored.
std::int64_t max_batch(const DecodeSetup& setup, const GpuPreset& gpu);

// The smallest power-of-two tensor-parallel degree u (<= kMaxGpusPerUnit) at which setup.batch
// sequences of setup.context_tokens fit; setup.gpus_per_unit is ignored. Throws lockstep::Error
// saying it needs more than kMaxGpusPerUnit GPUs when none does.
int min_gpus_per_unit(const DecodeSetup& setup, const GpuPreset& gpu);

// Decode steps at B = 1, 2, 4, ... up to max_batch(setup, gpu), plus max_batch itself when it
// is not a power of two; empty when B = 1 does not fit. setup.batch is ignored.
std::vector<DecodeStep> sweep_batches(const DecodeSetup& setup, const GpuPreset& gpu);

}  // namespace lockstep::plan
