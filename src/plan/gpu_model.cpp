#include "plan/gpu_model.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace lockstep::plan {
namespace {

constexpr double kActivationBytes = 2;  // fp16/bf16 activations in the all-reduce
constexpr double kMaxKvBytesPerValue = 8;

double peak_for(GpuPrecision p, const GpuPreset& gpu, std::string_view& used) {
  double peak = 0;
  switch (p) {
    case GpuPrecision::Fp16: break;
    case GpuPrecision::Fp8: peak = gpu.peak_flops_fp8; break;
    case GpuPrecision::Int8: peak = gpu.peak_ops_int8; break;
    case GpuPrecision::Fp4: peak = gpu.peak_flops_fp4; break;
  }
  if (peak > 0) {
    used = gpu_precision_name(p);
    return peak;
  }
  used = gpu_precision_name(GpuPrecision::Fp16);  // weight-only: fp16 math
  return gpu.peak_flops_fp16;
}

void check_setup(const DecodeSetup& s, const GpuPreset& gpu) {
  const model::ModelConfig& m = s.model;
  if (m.n_layer <= 0 || m.n_embd <= 0 || m.n_head <= 0 || m.n_head_kv <= 0 || m.head_dim <= 0 ||
      m.n_vocab <= 0 || m.n_ff <= 0)
    fail("model '{}' has a zero or negative width, layer or head count", m.name);
  if (s.context_tokens < 1 || s.context_tokens > kMaxContextTokens)
    fail("the context length is {} tokens (must be between 1 and {})", s.context_tokens,
         kMaxContextTokens);
  if (s.batch < 1 || s.batch > kMaxDecodeBatch)
    fail("the batch size is {} (must be between 1 and {})", s.batch, kMaxDecodeBatch);
  if (s.gpus_per_unit < 1 || s.gpus_per_unit > kMaxGpusPerUnit)
    fail("the number of GPUs per inference unit is {} (must be between 1 and {})",
         s.gpus_per_unit, kMaxGpusPerUnit);
  if (!(s.kv_bytes_per_value > 0 && s.kv_bytes_per_value <= kMaxKvBytesPerValue))
    fail("the KV cache precision is {} bytes per value (must be in (0, {}])",
         s.kv_bytes_per_value, kMaxKvBytesPerValue);
  if (!(gpu.hbm_bytes > 0 && gpu.hbm_bytes_per_s > 0 && gpu.peak_flops_fp16 > 0 &&
        gpu.nvlink_bytes_per_s > 0 && gpu.hbm_efficiency > 0 && gpu.flops_efficiency > 0 &&
        gpu.hbm_usable_fraction > 0))
    fail("GPU preset '{}' has a zero capacity, bandwidth, peak or efficiency", gpu.name);
}

int kv_split(const DecodeSetup& s) {
  return static_cast<int>(std::min<std::int64_t>(s.gpus_per_unit, s.model.n_head_kv));
}

double weight_bytes_per_gpu(const DecodeSetup& s) {
  return static_cast<double>(s.model.parameter_count()) * bytes_per_weight(s.weights) /
         s.gpus_per_unit;
}

double kv_bytes_per_sequence_per_gpu(const DecodeSetup& s) {
  return static_cast<double>(s.context_tokens) * kv_bytes_per_token(s.model, s.kv_bytes_per_value) /
         kv_split(s);
}

}  // namespace

GpuPrecision parse_gpu_precision(std::string_view text) {
  if (text == "fp16" || text == "bf16") return GpuPrecision::Fp16;
  if (text == "fp8") return GpuPrecision::Fp8;
  if (text == "int8") return GpuPrecision::Int8;
  if (text == "fp4") return GpuPrecision::Fp4;
  fail("unknown weight precision '{}' (expected fp16, bf16, fp8, int8 or fp4)", text);
}

std::string_view gpu_precision_name(GpuPrecision p) {
  switch (p) {
    case GpuPrecision::Fp16: return "fp16";
    case GpuPrecision::Fp8: return "fp8";
    case GpuPrecision::Int8: return "int8";
    case GpuPrecision::Fp4: return "fp4";
  }
  return "fp16";
}

double bytes_per_weight(GpuPrecision p) {
  switch (p) {
    case GpuPrecision::Fp16: return 2.0;
    case GpuPrecision::Fp8:
    case GpuPrecision::Int8: return 1.0;
    case GpuPrecision::Fp4: return 0.5;
  }
  return 2.0;
}

double streamed_parameters(const model::ModelConfig& m) {
  const double all = static_cast<double>(m.parameter_count());
  const double input_embedding = static_cast<double>(m.n_vocab) * static_cast<double>(m.n_embd);
  return m.tied_embeddings ? all : all - input_embedding;
}

double kv_bytes_per_token(const model::ModelConfig& m, double kv_bytes_per_value) {
  return 2.0 * static_cast<double>(m.n_layer) * static_cast<double>(m.kv_dim()) *
         kv_bytes_per_value;
}

DecodeStep decode_step(const DecodeSetup& s, const GpuPreset& gpu) {
  check_setup(s, gpu);
  const model::ModelConfig& m = s.model;
  const double u = s.gpus_per_unit;
  const double b = static_cast<double>(s.batch);
  const double layers = static_cast<double>(m.n_layer);
  const double ctx = static_cast<double>(s.context_tokens);

  DecodeStep r;
  r.batch = s.batch;
  r.gpus_per_unit = s.gpus_per_unit;
  r.weight_bytes_per_gpu = weight_bytes_per_gpu(s);
  r.kv_bytes_per_gpu = b * kv_bytes_per_sequence_per_gpu(s);
  r.memory_bytes_per_gpu = r.weight_bytes_per_gpu + r.kv_bytes_per_gpu;
  r.usable_bytes_per_gpu = gpu.hbm_bytes * gpu.hbm_usable_fraction;
  r.fits = r.memory_bytes_per_gpu <= r.usable_bytes_per_gpu;

  const double p_stream = streamed_parameters(m);
  const double streamed_bytes_per_gpu = p_stream * bytes_per_weight(s.weights) / u;
  r.hbm_s = (streamed_bytes_per_gpu + r.kv_bytes_per_gpu) /
            (gpu.hbm_bytes_per_s * gpu.hbm_efficiency);

  r.flops = 2.0 * p_stream * b + 4.0 * layers * static_cast<double>(m.q_dim()) * ctx * b;
  const double peak = peak_for(s.weights, gpu, r.compute_precision);
  r.compute_s = r.flops / (u * peak * gpu.flops_efficiency);

  r.overhead_s = layers * gpu.per_layer_overhead_s;
  if (s.gpus_per_unit > 1) {
    const double message_bytes = b * static_cast<double>(m.n_embd) * kActivationBytes;
    const double one = gpu.allreduce_latency_s +
                       2.0 * (u - 1.0) / u * message_bytes / gpu.nvlink_bytes_per_s;
    r.allreduce_s = 2.0 * layers * one;
  }
  r.memory_bound = r.hbm_s >= r.compute_s;
  r.step_s = std::max(r.hbm_s, r.compute_s) + r.overhead_s + r.allreduce_s;
  r.tokens_per_s_per_user = 1.0 / r.step_s;
  r.tokens_per_s_per_unit = b / r.step_s;
  r.joules_per_token = u * gpu.power_w * r.step_s / b;
  return r;
}

std::int64_t max_batch(const DecodeSetup& setup, const GpuPreset& gpu) {
  DecodeSetup s = setup;
  s.batch = 1;
  check_setup(s, gpu);
  const double room = gpu.hbm_bytes * gpu.hbm_usable_fraction - weight_bytes_per_gpu(s);
  const double per_sequence = kv_bytes_per_sequence_per_gpu(s);
  if (room < per_sequence) return 0;
  const double fit = std::floor(room / per_sequence);
  std::int64_t b = fit >= static_cast<double>(kMaxDecodeBatch) ? kMaxDecodeBatch
                                                               : static_cast<std::int64_t>(fit);
  // Agree with decode_step's own test exactly (rounding at the boundary).
  s.batch = b;
  while (b > 0 && !decode_step(s, gpu).fits) s.batch = --b;
  return b;
}

int min_gpus_per_unit(const DecodeSetup& setup, const GpuPreset& gpu) {
  DecodeSetup s = setup;
  for (int u = 1; u <= kMaxGpusPerUnit; u *= 2) {
    s.gpus_per_unit = u;
    if (decode_step(s, gpu).fits) return u;
  }
  fail("{} at {} with batch {} and a context of {} tokens needs more than {} {} GPUs",
       setup.model.name.empty() ? std::string("the model") : setup.model.name,
       gpu_precision_name(setup.weights), setup.batch, setup.context_tokens, kMaxGpusPerUnit,
       gpu.name);
}

std::vector<DecodeStep> sweep_batches(const DecodeSetup& setup, const GpuPreset& gpu) {
  const std::int64_t top = max_batch(setup, gpu);
  std::vector<DecodeStep> steps;
  DecodeSetup s = setup;
  for (std::int64_t b = 1; b <= top; b *= 2) {
    s.batch = b;
    steps.push_back(decode_step(s, gpu));
  }
  if (top > 0 && (top & (top - 1)) != 0) {
    s.batch = top;
    steps.push_back(decode_step(s, gpu));
  }
  return steps;
}

}  // namespace lockstep::plan
