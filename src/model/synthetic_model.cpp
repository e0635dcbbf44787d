#include "model/synthetic_model.h"

#include <fmt/format.h>

#include <array>
#include <chrono>
#include <cmath>
#include <map>
#include <string_view>

#include "core/error.h"
#include "model/gguf_export.h"
#include "model/gguf_vocabulary_writer.h"
#include "format/gguf_writer.h"
#include "core/rng.h"
#include "tokenizer/byte_unicode.h"

namespace lockstep::model {
namespace {

using numerics::TensorType;

// ---------------------------------------------------------------------------------------------
// Random numbers: identical bits everywhere (integer arithmetic, IEEE +-*/ and sqrt only).

std::uint64_t fnv1a(std::string_view s) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

// 1/(2k+1) and 1/k!, folded at compile time (exactly rounded, the same on every machine).
constexpr std::array<double, 10> kOddReciprocals = [] {
  std::array<double, 10> a{};
  for (int k = 0; k < 10; ++k) a[k] = 1.0 / (2.0 * k + 1.0);
  return a;
}();
constexpr std::array<double, 15> kFactorialReciprocals = [] {
  std::array<double, 15> a{};
  double f = 1.0;
  for (int k = 0; k < 15; ++k) {
    if (k > 0) f *= k;
    a[k] = 1.0 / f;
  }
  return a;
}();

// Natural logarithm of x > 0 from frexp (exact) and a series in IEEE double arithmetic, so the
// result does not depend on the C library: ln x = e ln 2 + 2 atanh((m - 1) / (m + 1)),
// m in [sqrt(1/2), sqrt(2)). The truncation error (|f| <= 0.172, terms to f^19) is below 1e-16.
double portable_log(double x) {
  int e = 0;
  double m = std::frexp(x, &e);  // x = m 2^e, m in [0.5, 1)
  if (m < 0.70710678118654752440) {
    m *= 2.0;
    --e;
  }
  const double f = (m - 1.0) / (m + 1.0);
  const double t = f * f;
  double series = kOddReciprocals[9];
  for (int k = 8; k >= 0; --k) series = series * t + kOddReciprocals[k];
  constexpr double kLn2 = 0.69314718055994530942;
  return static_cast<double>(e) * kLn2 + 2.0 * f * series;
}

// e^x for x <= 0 the same way: x = k ln 2 + r (Cody-Waite, |r| <= 0.35), Taylor series to r^14
// (error below 1e-17), scaled by 2^k with ldexp (exact).
double portable_exp(double x) {
  if (x < -700.0) return 0.0;
  constexpr double kLn2Hi = 6.93147180369123816490e-01, kLn2Lo = 1.90821492927058770002e-10;
  const double k = std::floor(x * 1.44269504088896338700 + 0.5);
  const double r = (x - k * kLn2Hi) - k * kLn2Lo;
  double p = kFactorialReciprocals[14];
  for (int i = 13; i >= 0; --i) p = p * r + kFactorialReciprocals[i];
  return std::ldexp(p, static_cast<int>(k));
}

// Marsaglia and Tsang's ziggurat for the standard normal (J. Stat. Software 5(8), 2000), 128
// layers, its constants as published; tables computed with the portable functions above.
struct ZigguratTables {
  static constexpr double kR = 3.442619855899;           // start of the tail
  static constexpr double kV = 9.91256303526217e-3;      // area of each layer
  std::array<std::uint32_t, 128> k{};                    // acceptance bounds, units of 2^-31
  std::array<double, 128> w{};                           // layer widths / 2^31
  std::array<double, 128> f{};                           // density at the layer edges
  ZigguratTables() {
    constexpr double m1 = 2147483648.0;  // 2^31
    double dn = kR, tn = dn;
    const double q = kV / portable_exp(-0.5 * dn * dn);
    k[0] = static_cast<std::uint32_t>((dn / q) * m1);
    k[1] = 0;
    w[0] = q / m1;
    w[127] = dn / m1;
    f[0] = 1.0;
    f[127] = portable_exp(-0.5 * dn * dn);
    for (int i = 126; i >= 1; --i) {
      dn = std::sqrt(-2.0 * portable_log(kV / dn + portable_exp(-0.5 * dn * dn)));
      k[i + 1] = static_cast<std::uint32_t>((dn / tn) * m1);
      tn = dn;
      f[i] = portable_exp(-0.5 * dn * dn);
      w[i] = dn / m1;
    }
  }
};

const ZigguratTables& ziggurat() {
  static const ZigguratTables tables;
  return tables;
}

// Standard normal samples: one 64-bit draw per sample in about 99% of cases.
class NormalStream {
 public:
  explicit NormalStream(std::uint64_t seed_state) : rng_(seed_state), z_(ziggurat()) {}
  double next() {
    for (;;) {
      const std::uint64_t bits = rng_.next();
      const std::uint32_t layer = bits & 127u;
      const auto hz = static_cast<std::int32_t>(static_cast<std::uint32_t>(bits >> 32));
      const std::uint32_t magnitude =
          hz < 0 ? 0u - static_cast<std::uint32_t>(hz) : static_cast<std::uint32_t>(hz);
      const double x = static_cast<double>(hz) * z_.w[layer];
      if (magnitude < z_.k[layer]) return x;
      if (layer == 0) {  // the tail beyond kR
        double xx, y;
        do {
          xx = -portable_log(uniform()) / ZigguratTables::kR;
          y = -portable_log(uniform());
        } while (y + y < xx * xx);
        return hz > 0 ? ZigguratTables::kR + xx : -ZigguratTables::kR - xx;
      }
      if (z_.f[layer] + uniform() * (z_.f[layer - 1] - z_.f[layer]) < portable_exp(-0.5 * x * x))
        return x;
    }
  }

 private:
  double uniform() {  // (0, 1), 53 random bits
    return (static_cast<double>(rng_.next() >> 11) + 0.5) * 0x1.0p-53;
  }
  Rng rng_;
  const ZigguratTables& z_;
};

// The stream of one row of one tensor.
std::uint64_t row_seed(std::uint64_t seed, std::uint64_t name_hash, std::uint64_t row) {
  std::uint64_t state = seed;
  state = splitmix64(state) ^ name_hash;
  state = splitmix64(state) ^ row;
  return splitmix64(state);
}

// ---------------------------------------------------------------------------------------------
// Vocabulary.

constexpr std::string_view kLetters = "etaoinshrdlcumwfgypbvkjxqz";  // English frequency order

// Calls visit(word) for every string over kLetters of length `length`, in odometer order;
// stops when visit returns false. Returns false if stopped.
template <typename Visit>
bool for_each_word(int length, Visit&& visit) {
  std::vector<int> digits(static_cast<std::size_t>(length), 0);
  std::string word(static_cast<std::size_t>(length), kLetters[0]);
  for (;;) {
    for (int i = 0; i < length; ++i) word[i] = kLetters[digits[i]];
    if (!visit(word)) return false;
    int i = length - 1;
    while (i >= 0 && ++digits[i] == static_cast<int>(kLetters.size())) digits[i--] = 0;
    if (i < 0) return true;
  }
}

tokenizer::Vocabulary spm_vocabulary(std::int64_t n_vocab) {
  using tokenizer::TokenType;
  constexpr std::int64_t kFixed = 3 + 256;
  if (n_vocab < kFixed + 1)
    fail("a SentencePiece vocabulary needs more than {} tokens (<unk>, <s>, </s> and 256 byte "
         "tokens); n_vocab is {}",
         kFixed, n_vocab);
  tokenizer::Vocabulary v;
  v.kind = tokenizer::VocabKind::SentencePiece;
  v.source = "synthetic vocabulary";
  v.pre_tokenizer = "default";
  auto add = [&](std::string text, TokenType type, float score) {
    v.tokens.push_back(std::move(text));
    v.types.push_back(type);
    v.scores.push_back(score);
  };
  add("<unk>", TokenType::Unknown, 0.0f);
  add("<s>", TokenType::Control, 0.0f);
  add("</s>", TokenType::Control, 0.0f);
  for (int b = 0; b < 256; ++b) add(tokenizer::byte_token_text(static_cast<std::uint8_t>(b)), TokenType::Byte, 0.0f);

  const std::size_t total = static_cast<std::size_t>(n_vocab);
  const std::string space = "\xE2\x96\x81";  // '▁' U+2581, SentencePiece's space
  float score = 0.0f;
  auto piece = [&](const std::string& text) {
    if (v.tokens.size() >= total) return false;
    add(text, TokenType::Normal, score);
    score -= 1.0f;
    return true;
  };
  piece(space);
  for (char c : kLetters) {
    piece(space + c);
    piece(std::string(1, c));
  }
  for (char c : kLetters) {
    const char upper = static_cast<char>(c - 'a' + 'A');
    piece(space + upper);
    piece(std::string(1, upper));
  }
  for (char c : std::string_view("0123456789")) piece(std::string(1, c));
  for (char c : std::string_view(".,!?'\"-:;()")) piece(std::string(1, c));
  for (int length = 2; v.tokens.size() < total; ++length) {
    for_each_word(length, [&](const std::string& w) { return piece(space + w) && piece(w); });
  }
  v.bos_id = 1;
  v.eos_id = 2;
  v.unk_id = 0;
  v.add_bos = true;
  v.add_eos = false;
  v.add_space_prefix = true;
  return v;
}

tokenizer::Vocabulary bpe_vocabulary(std::int64_t n_vocab, bool qwen) {
  using tokenizer::TokenType;
  constexpr std::int64_t kFixed = 256 + 3;
  if (n_vocab < kFixed + 1)
    fail("a byte-level BPE vocabulary needs more than {} tokens (256 bytes and 3 specials); "
         "n_vocab is {}",
         kFixed, n_vocab);
  tokenizer::Vocabulary v;
  v.kind = tokenizer::VocabKind::ByteLevelBpe;
  v.source = "synthetic vocabulary";
  v.pre_tokenizer = qwen ? "qwen2" : "llama-bpe";
  for (int b = 0; b < 256; ++b) {
    v.tokens.push_back(tokenizer::byte_to_unicode_utf8(static_cast<std::uint8_t>(b)));
    v.types.push_back(TokenType::Normal);
  }
  const std::size_t merged_end = static_cast<std::size_t>(n_vocab - 3);
  auto merge = [&](const std::string& left, const std::string& right) {
    if (v.tokens.size() >= merged_end) return false;
    v.merges.emplace_back(left, right);
    v.tokens.push_back(left + right);
    v.types.push_back(TokenType::Normal);
    return true;
  };
  const std::string space = tokenizer::byte_to_unicode_utf8(' ');  // 'Ġ'
  for (char c : kLetters) merge(space, std::string(1, c));
  for (int length = 2; v.tokens.size() < merged_end; ++length) {
    for_each_word(length, [&](const std::string& w) {
      const std::string head = w.substr(0, w.size() - 1), last = w.substr(w.size() - 1);
      return merge(head, last) && merge(space + head, last);
    });
  }
  const std::int32_t first_special = static_cast<std::int32_t>(v.tokens.size());
  const std::array<const char*, 3> specials =
      qwen ? std::array<const char*, 3>{"<|endoftext|>", "<|im_start|>", "<|im_end|>"}
           : std::array<const char*, 3>{"<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"};
  for (const char* s : specials) {
    v.tokens.emplace_back(s);
    v.types.push_back(TokenType::Control);
  }
  if (qwen) {
    v.bos_id = first_special;      // <|endoftext|>
    v.pad_id = first_special;
    v.eos_id = first_special + 2;  // <|im_end|>
    v.eot_id = first_special + 2;
    v.add_bos = false;
    v.chat_template =
        "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + "
        "message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt "
        "%}{{ '<|im_start|>assistant\\n' }}{% endif %}";
  } else {
    v.bos_id = first_special;      // <|begin_of_text|>
    v.eos_id = first_special + 1;  // <|end_of_text|>
    v.eot_id = first_special + 2;  // <|eot_id|>
    v.add_bos = true;
  }
  v.add_eos = false;
  v.add_space_prefix = false;
  return v;
}

// ---------------------------------------------------------------------------------------------
// Weights.

struct Distribution {
  double mean;
  double stddev;
};

}  // namespace

tokenizer::Vocabulary synthetic_vocabulary(const ModelConfig& config, const std::string& tokenizer) {
  if (tokenizer == "spm") return spm_vocabulary(config.n_vocab);
  if (tokenizer == "bpe") {
    const bool qwen = config.architecture == Architecture::Qwen2 ||
                      config.architecture == Architecture::Qwen3;
    return bpe_vocabulary(config.n_vocab, qwen);
  }
  fail("unknown synthetic tokenizer '{}' (must be spm or bpe)", tokenizer);
}

void write_synthetic_model(const CatalogShape& shape, const SyntheticModelOptions& options,
                           const std::string& path) {
  ModelConfig c = shape.config;
  c.name = options.name.empty() ? "lockstep-synthetic-" + shape.name : options.name;
  const auto start = std::chrono::steady_clock::now();

  GgufWriter w;
  add_model_config_metadata(w, c, options.matrix_type);
  w.add_string("lockstep.synthetic.shape", shape.name);
  w.add_uint64("lockstep.synthetic.seed", options.seed);
  add_vocabulary(w, synthetic_vocabulary(c, shape.tokenizer));

  const auto n_embd = static_cast<std::uint64_t>(c.n_embd);
  const auto n_vocab = static_cast<std::uint64_t>(c.n_vocab);
  const auto n_ff = static_cast<std::uint64_t>(c.n_ff);
  const auto q_dim = static_cast<std::uint64_t>(c.q_dim());
  const auto kv_dim = static_cast<std::uint64_t>(c.kv_dim());
  const auto head_dim = static_cast<std::uint64_t>(c.head_dim);
  const double size_scale = 16.0 / std::sqrt(static_cast<double>(c.n_embd));  // 1 at n_embd 256
  const double r = c.tied_embeddings ? 4.0 : 1.0;
  const std::uint64_t seed = options.seed;

  std::map<std::pair<TensorType, std::uint64_t>, std::vector<std::string>> fallbacks;
  std::vector<std::uint64_t> tensor_bytes;  // per tensor, for progress

  auto add_random = [&](const std::string& name, std::vector<std::uint64_t> shape_ggml,
                        Distribution d, bool matrix) {
    const std::uint64_t row_length = shape_ggml[0];
    std::uint64_t rows = 1;
    for (std::size_t i = 1; i < shape_ggml.size(); ++i) rows *= shape_ggml[i];
    TensorType type = TensorType::F32;
    if (matrix) {
      type = storage_type_for_rows(options.matrix_type, row_length);
      if (type != options.matrix_type) fallbacks[{type, row_length}].push_back(name);
    }
    const std::uint64_t name_hash = fnv1a(name);
    RowFiller fill = [seed, name_hash, d, row_length](std::uint64_t row, float* dst) {
      NormalStream normal(row_seed(seed, name_hash, row));
      for (std::uint64_t i = 0; i < row_length; ++i)
        dst[i] = static_cast<float>(d.mean + d.stddev * normal.next());
    };
    tensor_bytes.push_back(numerics::tensor_bytes(type, row_length * rows));
    w.add_tensor(name, type, std::move(shape_ggml),
                 quantized_row_producer(type, row_length, rows, std::move(fill), options.threads));
  };

  if (!c.rope_freq_factors.empty()) {
    w.add_tensor_f32("rope_freqs.weight", {c.rope_freq_factors.size()}, c.rope_freq_factors);
    tensor_bytes.push_back(c.rope_freq_factors.size() * sizeof(float));
  }
  add_random("token_embd.weight", {n_embd, n_vocab},
             {0.0, (c.tied_embeddings ? 0.25 : 0.5) * size_scale}, true);
  const Distribution norm{1.0, 0.1};
  const Distribution in_proj{0.0, 1.0 / std::sqrt(static_cast<double>(n_embd))};
  for (std::int64_t i = 0; i < c.n_layer; ++i) {
    const std::string p = fmt::format("blk.{}.", i);
    add_random(p + "attn_norm.weight", {n_embd}, norm, false);
    add_random(p + "attn_q.weight", {n_embd, q_dim}, in_proj, true);
    add_random(p + "attn_k.weight", {n_embd, kv_dim}, in_proj, true);
    add_random(p + "attn_v.weight", {n_embd, kv_dim}, in_proj, true);
    if (c.qkv_bias) {
      add_random(p + "attn_q.bias", {q_dim}, {0.0, 0.5}, false);
      add_random(p + "attn_k.bias", {kv_dim}, {0.0, 0.5}, false);
      add_random(p + "attn_v.bias", {kv_dim}, {0.0, 0.1}, false);
    }
    if (c.qk_norm) {
      add_random(p + "attn_q_norm.weight", {head_dim}, {1.2, 0.3}, false);
      add_random(p + "attn_k_norm.weight", {head_dim}, {1.2, 0.3}, false);
    }
    add_random(p + "attn_output.weight", {q_dim, n_embd},
               {0.0, r / std::sqrt(static_cast<double>(q_dim))}, true);
    add_random(p + "ffn_norm.weight", {n_embd}, norm, false);
    add_random(p + "ffn_gate.weight", {n_embd, n_ff}, in_proj, true);
    add_random(p + "ffn_up.weight", {n_embd, n_ff}, in_proj, true);
    add_random(p + "ffn_down.weight", {n_ff, n_embd},
               {0.0, r / std::sqrt(static_cast<double>(n_ff))}, true);
  }
  add_random("output_norm.weight", {n_embd}, norm, false);
  if (!c.tied_embeddings)
    add_random("output.weight", {n_embd, n_vocab}, {0.0, 0.25 * size_scale}, true);

  std::uint64_t done = 0;  // bytes written so far, for progress lines
  if (options.log) {
    const auto& wanted = numerics::tensor_type_info(options.matrix_type);
    for (const auto& [key, names] : fallbacks)
      options.log(fmt::format(
          "warning: {} matrices have rows of {} values, not a whole number of {} blocks of {}: "
          "stored as {} instead (first: {})",
          names.size(), key.second, wanted.name, wanted.block_values,
          numerics::tensor_type_info(key.first).name, names.front()));
    std::uint64_t total = 0;
    for (auto b : tensor_bytes) total += b;
    w.set_progress([&options, &tensor_bytes, &done, total, start, n_layer = c.n_layer](
                       std::size_t i, std::size_t n, const std::string& name) {
      done += tensor_bytes[i];
      const bool layer_end = name.find("ffn_down") != std::string::npos;
      if (!layer_end && i + 1 != n && name != "token_embd.weight") return;
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      const std::string what =
          layer_end ? fmt::format("layer {}/{}", std::stoll(name.substr(4)) + 1, n_layer) : name;
      options.log(fmt::format("  {:>24}  {:8.1f} / {:.1f} MiB  {:6.1f} s", what,
                              done / 1048576.0, total / 1048576.0, seconds));
    });
  }
  w.write(path);
}

}  // namespace lockstep::model
