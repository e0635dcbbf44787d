#include "tokenizer/gguf_vocabulary.h"

#include <cstdio>
#include <limits>

#include "core/error.h"
#include "tokenizer/merge_text.h"
#include "tokenizer/pre_tokenizer_catalog.h"

namespace lockstep::tokenizer {
namespace {

std::optional<std::int32_t> read_id(const model::GgufFile& file, const std::string& key,
                                    std::optional<std::int32_t> fallback) {
  if (!file.has(key)) return fallback;
  const std::uint64_t id = file.get_uint(key);
  if (id > static_cast<std::uint64_t>(std::numeric_limits<std::int32_t>::max())) {
    fail("{}: metadata '{}' is {}, not a token id", file.path(), key, id);
  }
  return static_cast<std::int32_t>(id);
}

}  // namespace

Vocabulary vocabulary_from_gguf(const model::GgufFile& file) {
  Vocabulary v;
  v.source = file.path();
  const std::string model = file.get_string("tokenizer.ggml.model");
  if (model == "llama") {
    v.kind = VocabKind::SentencePiece;
  } else if (model == "gpt2") {
    v.kind = VocabKind::ByteLevelBpe;
  } else {
    fail("{}: unsupported tokenizer '{}' in tokenizer.ggml.model (lockstep reads 'llama' and "
         "'gpt2')", file.path(), model);
  }

  v.tokens = file.get_string_array("tokenizer.ggml.tokens");
  const std::size_t n = v.tokens.size();
  if (file.has("tokenizer.ggml.scores")) {
    const std::vector<double> scores = file.get_float_array("tokenizer.ggml.scores");
    if (scores.size() != n) {
      fail("{}: tokenizer.ggml.scores has {} entries for {} tokens", file.path(), scores.size(), n);
    }
    v.scores.assign(scores.begin(), scores.end());
  }
  if (file.has("tokenizer.ggml.token_type")) {
    const std::vector<std::int64_t> types = file.get_int_array("tokenizer.ggml.token_type");
    if (types.size() != n) {
      fail("{}: tokenizer.ggml.token_type has {} entries for {} tokens", file.path(), types.size(),
           n);
    }
    v.types.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      if (types[i] < 0 || types[i] > static_cast<std::int64_t>(TokenType::Byte)) {
        fail("{}: tokenizer.ggml.token_type[{}] is {} (must be 0 to 6)", file.path(), i, types[i]);
      }
      v.types.push_back(static_cast<TokenType>(types[i]));
    }
  }

  const DefaultFlags flags = default_flags(v.kind);
  v.add_bos = flags.add_bos;
  v.add_eos = flags.add_eos;
  v.add_space_prefix = flags.add_space_prefix;
  std::optional<std::int32_t> default_bos, default_eos, default_unk;

  if (v.kind == VocabKind::ByteLevelBpe) {
    if (!file.has("tokenizer.ggml.pre")) {
      std::fprintf(stderr,
                   "lockstep: warning: %s has no tokenizer.ggml.pre; using the 'default' "
                   "pre-tokenizer, which may not be the one the model was trained with\n",
                   file.path().c_str());
    }
    v.pre_tokenizer = file.get_string("tokenizer.ggml.pre", "default");
    const PreTokenizerSpec* spec = find_pre_tokenizer(v.pre_tokenizer);
    if (!spec) {
      fail("{}: unknown pre-tokenizer '{}' in tokenizer.ggml.pre (known: {})", file.path(),
           v.pre_tokenizer, known_pre_tokenizer_names());
    }
    v.ignore_merges = spec->ignore_merges;
    v.add_bos = spec->add_bos_by_default;
    const std::vector<std::string> merges = file.get_string_array("tokenizer.ggml.merges");
    v.merges.reserve(merges.size());
    for (std::size_t i = 0; i < merges.size(); ++i) {
      auto sides = split_merge_text(merges[i]);
      if (!sides) {
        fail("{}: tokenizer.ggml.merges[{}] ('{}') is not two tokens separated by a space",
             file.path(), i, merges[i]);
      }
      v.merges.push_back(std::move(*sides));
    }
  } else {
    v.pre_tokenizer = file.get_string("tokenizer.ggml.pre", "default");
    v.add_space_prefix = file.get_bool("tokenizer.ggml.add_space_prefix", v.add_space_prefix);
    if (n > 2) default_bos = 1, default_eos = 2;
    if (n > 0) default_unk = 0;
  }

  v.bos_id = read_id(file, "tokenizer.ggml.bos_token_id", default_bos);
  v.eos_id = read_id(file, "tokenizer.ggml.eos_token_id", default_eos);
  v.unk_id = read_id(file, "tokenizer.ggml.unknown_token_id", default_unk);
  v.pad_id = read_id(file, "tokenizer.ggml.padding_token_id", std::nullopt);
  v.eot_id = read_id(file, "tokenizer.ggml.eot_token_id", std::nullopt);
  v.eom_id = read_id(file, "tokenizer.ggml.eom_token_id", std::nullopt);
  v.add_bos = file.get_bool("tokenizer.ggml.add_bos_token", v.add_bos);
  v.add_eos = file.get_bool("tokenizer.ggml.add_eos_token", v.add_eos);
  if (file.has("tokenizer.chat_template")) {
    v.chat_template = file.get_string("tokenizer.chat_template");
  }

  add_conventional_end_of_generation_ids(v);
  validate_vocabulary(v);
  return v;
}

}  // namespace lockstep::tokenizer
