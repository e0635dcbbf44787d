#include "model/gguf_export.h"

#include <fmt/format.h>

#include <map>
#include <set>

#include "core/error.h"
#include "model/gguf_vocabulary_writer.h"
#include "numerics/dequantize.h"

namespace lockstep::model {
namespace {

using numerics::TensorType;

// llama.cpp's llama_ftype for a file whose matrices are mostly `type` (llama.h).
std::uint32_t llama_file_type(TensorType type) {
  switch (type) {
    case TensorType::F32: return 0;    // LLAMA_FTYPE_ALL_F32
    case TensorType::F16: return 1;    // LLAMA_FTYPE_MOSTLY_F16
    case TensorType::Q4_0: return 2;   // LLAMA_FTYPE_MOSTLY_Q4_0
    case TensorType::Q8_0: return 7;   // LLAMA_FTYPE_MOSTLY_Q8_0
    case TensorType::Q4_K: return 14;  // LLAMA_FTYPE_MOSTLY_Q4_K_S (every matrix q4_K)
    case TensorType::Q6_K: return 18;  // LLAMA_FTYPE_MOSTLY_Q6_K
    case TensorType::BF16: return 32;  // LLAMA_FTYPE_MOSTLY_BF16
    case TensorType::MXFP4: return 38; // LLAMA_FTYPE_MOSTLY_MXFP4_MOE
  }
  return 0;
}

bool is_quantized(TensorType type) {
  return type != TensorType::F32 && type != TensorType::F16 && type != TensorType::BF16;
}

// The vocabulary with "[PAD<id>]" tokens appended up to n_vocab ids.
tokenizer::Vocabulary padded_vocabulary(const tokenizer::Vocabulary& v, std::int64_t n_vocab) {
  tokenizer::Vocabulary out = v;
  if (static_cast<std::int64_t>(out.tokens.size()) >= n_vocab) return out;
  const std::size_t original = out.tokens.size();
  if (out.types.empty()) out.types.assign(original, tokenizer::TokenType::Normal);
  for (std::int64_t id = static_cast<std::int64_t>(original); id < n_vocab; ++id) {
    out.tokens.push_back(fmt::format("[PAD{}]", id));
    out.types.push_back(tokenizer::TokenType::Unused);
    if (!out.scores.empty()) out.scores.push_back(-1000.0f);
  }
  return out;
}

}  // namespace

std::string gguf_architecture_name(const ModelConfig& config) {
  return config.architecture == Architecture::Mistral ? std::string("llama")
                                                      : std::string(architecture_name(config.architecture));
}

void add_model_config_metadata(GgufWriter& w, const ModelConfig& c, TensorType matrix_type) {
  const std::string arch = gguf_architecture_name(c);
  const std::string a = arch + ".";
  auto u32 = [](std::int64_t v) { return static_cast<std::uint32_t>(v); };
  w.add_string("general.architecture", arch);
  w.add_string("general.name", c.name);
  w.add_uint32("general.file_type", llama_file_type(matrix_type));
  if (is_quantized(matrix_type)) w.add_uint32("general.quantization_version", 2);
  w.add_uint32(a + "vocab_size", u32(c.n_vocab));
  w.add_uint32(a + "context_length", u32(c.n_ctx_train));
  w.add_uint32(a + "embedding_length", u32(c.n_embd));
  w.add_uint32(a + "block_count", u32(c.n_layer));
  w.add_uint32(a + "feed_forward_length", u32(c.n_ff));
  w.add_uint32(a + "attention.head_count", u32(c.n_head));
  w.add_uint32(a + "attention.head_count_kv", u32(c.n_head_kv));
  w.add_uint32(a + "attention.key_length", u32(c.head_dim));
  w.add_uint32(a + "attention.value_length", u32(c.head_dim));
  w.add_float32(a + "attention.layer_norm_rms_epsilon", static_cast<float>(c.rms_eps));
  w.add_float32(a + "rope.freq_base", static_cast<float>(c.rope_theta));
  w.add_uint32(a + "rope.dimension_count", u32(c.head_dim));
  if (c.rope_linear_scale != 1.0) {
    w.add_string(a + "rope.scaling.type", "linear");
    w.add_float32(a + "rope.scaling.factor", static_cast<float>(c.rope_linear_scale));
  }
}

TensorType storage_type_for_rows(TensorType wanted, std::uint64_t row_length) {
  auto fits = [&](TensorType t) {
    return row_length % numerics::tensor_type_info(t).block_values == 0;
  };
  if (fits(wanted)) return wanted;
  switch (wanted) {
    case TensorType::Q4_K: return fits(TensorType::Q4_0) ? TensorType::Q4_0 : TensorType::F16;
    case TensorType::Q6_K: return fits(TensorType::Q8_0) ? TensorType::Q8_0 : TensorType::F16;
    default: return TensorType::F16;
  }
}

void write_model_as_gguf(const Model& model, const tokenizer::Vocabulary& vocabulary,
                         TensorType matrix_type, const std::string& path,
                         const std::function<void(const std::string&)>& log) {
  const ModelConfig& c = model.config;
  if (c.n_layer <= 0 || model.layers.size() != static_cast<std::size_t>(c.n_layer) ||
      !model.token_embd || !model.output_norm || !model.output)
    fail("{}: the model's weights are not bound; cannot export it", model.source);
  if (static_cast<std::int64_t>(vocabulary.tokens.size()) > c.n_vocab)
    fail("{}: the tokenizer has {} tokens but the embedding only {} rows", model.source,
         vocabulary.tokens.size(), c.n_vocab);

  GgufWriter w;
  add_model_config_metadata(w, c, matrix_type);
  add_vocabulary(w, padded_vocabulary(vocabulary, c.n_vocab));

  const bool llama_family =
      c.architecture == Architecture::Llama || c.architecture == Architecture::Mistral;
  const bool permute_qk = llama_family && c.rope_style == RopeStyle::Halves;

  // Reported once per (wanted -> stored, row length).
  std::map<std::pair<TensorType, std::uint64_t>, std::vector<std::string>> fallbacks;

  // A matrix tensor: rows dequantized and re-quantized; `source_row` maps output rows to input.
  auto add_matrix = [&](const std::string& name, const TensorView& t,
                        std::function<std::uint64_t(std::uint64_t)> source_row) {
    const std::uint64_t row_length = t.row_length();
    const TensorType stored = storage_type_for_rows(matrix_type, row_length);
    if (stored != matrix_type) fallbacks[{stored, row_length}].push_back(name);
    const std::uint64_t src_row_bytes = numerics::tensor_bytes(t.type, row_length);
    const TensorView* view = &t;
    RowFiller fill = [view, row_length, src_row_bytes, source_row](std::uint64_t row, float* dst) {
      const std::uint64_t src = source_row ? source_row(row) : row;
      numerics::dequantize_row(view->type, view->data.data() + src * src_row_bytes, dst,
                               static_cast<std::int64_t>(row_length));
    };
    w.add_tensor(name, stored, t.shape,
                 quantized_row_producer(stored, row_length, t.row_count(), std::move(fill), 0));
  };
  // A vector tensor: stored as f32.
  auto add_vector = [&](const std::string& name, const TensorView& t) {
    const std::uint64_t n = t.element_count();
    const TensorView* view = &t;
    w.add_tensor(name, TensorType::F32, {n},
                 quantized_row_producer(TensorType::F32, n, 1,
                                        [view, n](std::uint64_t, float* dst) {
                                          numerics::dequantize_row(view->type, view->data.data(),
                                                                   dst, static_cast<std::int64_t>(n));
                                        }));
  };
  // HF -> GGUF row order for q/k of one layer: output row h*hd + 2i + j is input row
  // h*hd + j*hd/2 + i (the reshape/swapaxes of llama.cpp's converter).
  const std::uint64_t hd = static_cast<std::uint64_t>(c.head_dim);
  std::function<std::uint64_t(std::uint64_t)> qk_rows;  // empty: rows in order
  if (permute_qk) {
    qk_rows = [hd](std::uint64_t row) {
      const std::uint64_t h = row / hd, within = row % hd;
      const std::uint64_t i = within / 2, j = within % 2;
      return h * hd + j * (hd / 2) + i;
    };
  }

  if (!c.rope_freq_factors.empty()) {
    w.add_tensor_f32("rope_freqs.weight", {c.rope_freq_factors.size()}, c.rope_freq_factors);
  }
  add_matrix("token_embd.weight", *model.token_embd, nullptr);
  for (std::int64_t i = 0; i < c.n_layer; ++i) {
    const LayerWeights& l = model.layers[static_cast<std::size_t>(i)];
    const std::string p = fmt::format("blk.{}.", i);
    add_vector(p + "attn_norm.weight", *l.attn_norm);
    add_matrix(p + "attn_q.weight", *l.wq, qk_rows);
    add_matrix(p + "attn_k.weight", *l.wk, qk_rows);
    add_matrix(p + "attn_v.weight", *l.wv, nullptr);
    if (l.bq) add_vector(p + "attn_q.bias", *l.bq);
    if (l.bk) add_vector(p + "attn_k.bias", *l.bk);
    if (l.bv) add_vector(p + "attn_v.bias", *l.bv);
    if (l.q_norm) add_vector(p + "attn_q_norm.weight", *l.q_norm);
    if (l.k_norm) add_vector(p + "attn_k_norm.weight", *l.k_norm);
    add_matrix(p + "attn_output.weight", *l.wo, nullptr);
    add_vector(p + "ffn_norm.weight", *l.ffn_norm);
    add_matrix(p + "ffn_gate.weight", *l.ffn_gate, nullptr);
    add_matrix(p + "ffn_up.weight", *l.ffn_up, nullptr);
    add_matrix(p + "ffn_down.weight", *l.ffn_down, nullptr);
  }
  add_vector("output_norm.weight", *model.output_norm);
  if (!c.tied_embeddings && model.output != model.token_embd)
    add_matrix("output.weight", *model.output, nullptr);

  if (log) {
    for (const auto& [key, names] : fallbacks) {
      const auto& wanted = numerics::tensor_type_info(matrix_type);
      log(fmt::format("warning: {} matrices have rows of {} values, not a whole number of {} "
                      "blocks of {}: stored as {} instead (first: {})",
                      names.size(), key.second, wanted.name, wanted.block_values,
                      numerics::tensor_type_info(key.first).name, names.front()));
    }
    w.set_progress([&log](std::size_t i, std::size_t n, const std::string& name) {
      if (i + 1 == n || name.rfind("blk.", 0) != 0 || name.find("ffn_down") != std::string::npos)
        log(fmt::format("  [{}/{}] {}", i + 1, n, name));
    });
  }
  w.write(path);
}

}  // namespace lockstep::model
