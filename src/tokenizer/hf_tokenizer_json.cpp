#include "tokenizer/hf_tokenizer_json.h"

#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/json_depth.h"
#include "tokenizer/merge_text.h"
#include "tokenizer/pre_tokenizer_catalog.h"
#include "tokenizer/regex_splitter.h"

namespace lockstep::tokenizer {
namespace {

using Json = nlohmann::json;

const char* const kSpaceMark = "\xE2\x96\x81";  // '▁'
constexpr int kMaxJsonDepth = 256;

// One JSON document and the name to use for it in messages.
struct Document {
  std::string label;
  Json root;
};

std::string read_file(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open the {}", path, what);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) fail("{}: cannot read the {}", path, what);
  return buffer.str();
}

Document parse(std::string_view text, const std::string& label) {
  // Nesting is bounded before parsing: hostile input cannot exhaust the parser's stack.
  if (json_nesting_depth(text, kMaxJsonDepth) > kMaxJsonDepth)
    fail("{}: JSON nests deeper than {} levels", label, kMaxJsonDepth);
  Document doc{label, {}};
  try {
    doc.root = Json::parse(text.begin(), text.end());
  } catch (const Json::exception& e) {
    fail("{}: not valid JSON ({})", label, e.what());
  }
  if (!doc.root.is_object()) fail("{}: the top level is not a JSON object", label);
  return doc;
}

// A member of an object, or nullptr when it is absent or null.
const Json* member(const Json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

const Json& require(const Json& object, const char* key, const Document& doc,
                    const std::string& path) {
  const Json* value = member(object, key);
  if (!value) fail("{}: field '{}' is missing", doc.label, path);
  return *value;
}

std::string as_string(const Json& value, const Document& doc, const std::string& path) {
  if (!value.is_string()) fail("{}: field '{}' must be a string", doc.label, path);
  return value.get<std::string>();
}

bool as_bool(const Json& value, const Document& doc, const std::string& path) {
  if (!value.is_boolean()) fail("{}: field '{}' must be true or false", doc.label, path);
  return value.get<bool>();
}

std::optional<bool> optional_bool(const Json& object, const char* key, const Document& doc,
                                  const std::string& path) {
  const Json* value = member(object, key);
  if (!value) return std::nullopt;
  return as_bool(*value, doc, path);
}

std::int64_t as_id(const Json& value, const Document& doc, const std::string& path) {
  if (!value.is_number_integer() || value.get<std::int64_t>() < 0 ||
      value.get<std::int64_t>() > std::numeric_limits<std::int32_t>::max()) {
    fail("{}: field '{}' must be a token id (a non-negative integer)", doc.label, path);
  }
  return value.get<std::int64_t>();
}

const Json& as_array(const Json& value, const Document& doc, const std::string& path) {
  if (!value.is_array()) fail("{}: field '{}' must be an array", doc.label, path);
  return value;
}

std::string type_of(const Json& object, const Document& doc, const std::string& path) {
  if (!object.is_object()) fail("{}: field '{}' must be an object", doc.label, path);
  return as_string(require(object, "type", doc, path + ".type"), doc, path + ".type");
}

// Escapes every character PCRE2 treats specially, so the text matches literally.
std::string literal_regex(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (std::string_view("\\^$.|?*+()[]{}-/#&~ ").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

// --- vocabulary and added tokens ----------------------------------------------------------

struct RawTokens {
  std::vector<std::string> texts;
  std::vector<TokenType> types;
  std::unordered_map<std::string, std::int32_t> ids;
};

RawTokens read_tokens(const Json& model, const Json* added, const Document& doc) {
  const Json& vocab = require(model, "vocab", doc, "model.vocab");
  if (!vocab.is_object()) fail("{}: field 'model.vocab' must be an object", doc.label);
  const std::size_t n_added = added ? as_array(*added, doc, "added_tokens").size() : 0;
  const std::size_t bound = vocab.size() + n_added;  // ids must be dense below this

  std::map<std::int64_t, std::pair<std::string, TokenType>> by_id;
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    const std::string path = "model.vocab[\"" + it.key() + "\"]";
    const std::int64_t id = as_id(it.value(), doc, path);
    if (static_cast<std::size_t>(id) >= bound) {
      fail("{}: field '{}' is {}, leaving ids without a token", doc.label, path, id);
    }
    auto [slot, inserted] = by_id.emplace(id, std::make_pair(it.key(), TokenType::Normal));
    if (!inserted) {
      fail("{}: field '{}': id {} also belongs to '{}'", doc.label, path, id, slot->second.first);
    }
  }
  for (std::size_t i = 0; i < n_added; ++i) {
    const std::string path = fmt::format("added_tokens[{}]", i);
    const Json& entry = (*added)[i];
    if (!entry.is_object()) fail("{}: field '{}' must be an object", doc.label, path);
    const std::int64_t id = as_id(require(entry, "id", doc, path + ".id"), doc, path + ".id");
    const std::string content =
        as_string(require(entry, "content", doc, path + ".content"), doc, path + ".content");
    const bool special = optional_bool(entry, "special", doc, path + ".special").value_or(false);
    if (static_cast<std::size_t>(id) >= bound) {
      fail("{}: field '{}.id' is {}, leaving ids without a token", doc.label, path, id);
    }
    const TokenType type = special ? TokenType::Control : TokenType::UserDefined;
    auto [slot, inserted] = by_id.emplace(id, std::make_pair(content, type));
    if (!inserted) {
      if (slot->second.first != content) {
        fail("{}: field '{}' gives id {} the text '{}', but model.vocab gives it '{}'", doc.label,
             path, id, content, slot->second.first);
      }
      slot->second.second = type;
    }
  }
  if (by_id.empty()) fail("{}: field 'model.vocab' has no tokens", doc.label);

  RawTokens out;
  const std::int64_t n = by_id.rbegin()->first + 1;
  if (static_cast<std::size_t>(n) != by_id.size()) {
    std::int64_t expected = 0;
    for (const auto& entry : by_id) {
      if (entry.first != expected) break;
      ++expected;
    }
    fail("{}: token id {} has no text in model.vocab or added_tokens", doc.label, expected);
  }
  out.texts.reserve(by_id.size());
  for (auto& [id, entry] : by_id) {
    auto [slot, inserted] = out.ids.emplace(entry.first, static_cast<std::int32_t>(id));
    if (!inserted) {
      fail("{}: token text '{}' has two ids ({} and {})", doc.label, entry.first, slot->second, id);
    }
    out.texts.push_back(std::move(entry.first));
    out.types.push_back(entry.second);
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> read_merges(const Json& model,
                                                             const RawTokens& tokens,
                                                             const Document& doc) {
  std::vector<std::pair<std::string, std::string>> merges;
  const Json* list = member(model, "merges");
  if (!list) return merges;
  as_array(*list, doc, "model.merges");
  merges.reserve(list->size());
  for (std::size_t i = 0; i < list->size(); ++i) {
    const std::string path = fmt::format("model.merges[{}]", i);
    const Json& entry = (*list)[i];
    std::optional<std::pair<std::string, std::string>> sides;
    if (entry.is_string()) {
      sides = split_merge_text(entry.get<std::string>());
    } else if (entry.is_array() && entry.size() == 2 && entry[0].is_string() &&
               entry[1].is_string()) {
      sides = std::make_pair(entry[0].get<std::string>(), entry[1].get<std::string>());
    }
    if (!sides) {
      fail("{}: field '{}' must be \"left right\" or [\"left\", \"right\"]", doc.label, path);
    }
    for (const std::string* side : {&sides->first, &sides->second}) {
      if (!tokens.ids.count(*side)) {
        fail("{}: field '{}' refers to '{}', which is not in model.vocab", doc.label, path, *side);
      }
    }
    if (!tokens.ids.count(sides->first + sides->second)) {
      fail("{}: field '{}' makes '{}', which is not in model.vocab", doc.label, path,
           sides->first + sides->second);
    }
    merges.push_back(std::move(*sides));
  }
  return merges;
}

// --- the two supported layouts -----------------------------------------------------------

struct ByteLevelLayout {
  std::vector<std::string> regexes;
  bool add_prefix_space = false;
};

// The pre-tokenizers to inspect: the entries of a Sequence, or the single one.
std::vector<std::pair<const Json*, std::string>> pre_tokenizer_steps(const Json* pre,
                                                                      const Document& doc) {
  std::vector<std::pair<const Json*, std::string>> steps;
  if (!pre) return steps;
  if (type_of(*pre, doc, "pre_tokenizer") == "Sequence") {
    const Json& list = as_array(require(*pre, "pretokenizers", doc, "pre_tokenizer.pretokenizers"),
                                doc, "pre_tokenizer.pretokenizers");
    for (std::size_t i = 0; i < list.size(); ++i) {
      steps.emplace_back(&list[i], fmt::format("pre_tokenizer.pretokenizers[{}]", i));
    }
  } else {
    steps.emplace_back(pre, "pre_tokenizer");
  }
  return steps;
}

using Steps = std::vector<std::pair<const Json*, std::string>>;  // pre-tokenizers and their paths

ByteLevelLayout read_byte_level_layout(const Steps& steps, const Json* normalizer,
                                       const Document& doc) {
  if (normalizer && type_of(*normalizer, doc, "normalizer") != "NFC") {
    fail("{}: field 'normalizer' is '{}'; with a ByteLevel pre-tokenizer lockstep supports only "
         "none or NFC", doc.label, type_of(*normalizer, doc, "normalizer"));
  }
  ByteLevelLayout layout;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const auto& [step, path] = steps[i];
    const std::string type = type_of(*step, doc, path);
    const bool last = i + 1 == steps.size();
    if (type == "ByteLevel") {
      if (!last) fail("{}: field '{}': ByteLevel must be the last pre-tokenizer", doc.label, path);
      layout.add_prefix_space =
          optional_bool(*step, "add_prefix_space", doc, path + ".add_prefix_space").value_or(true);
      if (optional_bool(*step, "use_regex", doc, path + ".use_regex").value_or(true)) {
        layout.regexes.push_back(gpt2_split_regex());
      }
    } else if (type == "Split") {
      const Json& pattern = require(*step, "pattern", doc, path + ".pattern");
      if (const Json* regex = member(pattern, "Regex")) {
        layout.regexes.push_back(as_string(*regex, doc, path + ".pattern.Regex"));
        // Compile it now, so that a bad pattern is reported with its field.
        RegexSplitter check({layout.regexes.back()},
                            doc.label + ": field '" + path + ".pattern.Regex'");
      } else if (const Json* literal = member(pattern, "String")) {
        layout.regexes.push_back(literal_regex(as_string(*literal, doc, path + ".pattern.String")));
      } else {
        fail("{}: field '{}.pattern' must be {{\"Regex\": ...}} or {{\"String\": ...}}", doc.label,
             path);
      }
      const std::string behavior =
          as_string(require(*step, "behavior", doc, path + ".behavior"), doc, path + ".behavior");
      if (behavior != "Isolated") {
        fail("{}: field '{}.behavior' is '{}'; lockstep supports only 'Isolated'", doc.label, path,
             behavior);
      }
      if (optional_bool(*step, "invert", doc, path + ".invert").value_or(false)) {
        fail("{}: field '{}.invert' is true, which lockstep does not support", doc.label, path);
      }
    } else if (type == "Digits") {
      const bool individual =
          optional_bool(*step, "individual_digits", doc, path + ".individual_digits")
              .value_or(false);
      layout.regexes.push_back(individual ? R"(\p{N})" : R"(\p{N}+)");
    } else {
      fail("{}: field '{}.type' is '{}'; before ByteLevel lockstep supports Split and Digits",
           doc.label, path, type);
    }
  }
  // No splitting at all: each run of plain text is one word.
  if (layout.regexes.empty()) layout.regexes.push_back(R"([\s\S]+)");
  return layout;
}

// SentencePiece-style: returns whether a space is prepended. Throws if the layout is not one.
bool read_sentencepiece_layout(const Steps& steps, const Json* normalizer, const Document& doc) {
  if (steps.size() == 1 && type_of(*steps[0].first, doc, steps[0].second) == "Metaspace") {
    const Json& meta = *steps[0].first;
    const std::string& path = steps[0].second;
    if (normalizer) {
      fail("{}: field 'normalizer' must be null with a Metaspace pre-tokenizer", doc.label);
    }
    const std::string replacement =
        as_string(require(meta, "replacement", doc, path + ".replacement"), doc,
                  path + ".replacement");
    if (replacement != kSpaceMark) {
      fail("{}: field '{}.replacement' is '{}'; lockstep supports only '▁'", doc.label, path,
           replacement);
    }
    if (optional_bool(meta, "split", doc, path + ".split").value_or(false)) {
      fail("{}: field '{}.split' is true; lockstep supports Metaspace without splitting",
           doc.label, path);
    }
    if (const Json* scheme = member(meta, "prepend_scheme")) {
      const std::string value = as_string(*scheme, doc, path + ".prepend_scheme");
      if (value == "always" || value == "first") return true;
      if (value == "never") return false;
      fail("{}: field '{}.prepend_scheme' is '{}' (expected always, first or never)", doc.label,
           path, value);
    }
    return optional_bool(meta, "add_prefix_space", doc, path + ".add_prefix_space").value_or(true);
  }
  if (!steps.empty()) {
    fail("{}: field 'pre_tokenizer' ('{}') is neither ByteLevel nor Metaspace; lockstep reads "
         "byte-level and SentencePiece-style BPE tokenizers", doc.label,
         type_of(*steps[0].first, doc, steps[0].second));
  }
  if (!normalizer) {
    fail("{}: fields 'normalizer' and 'pre_tokenizer' are both null; lockstep reads byte-level "
         "and SentencePiece-style BPE tokenizers", doc.label);
  }
  std::vector<std::pair<const Json*, std::string>> parts;
  if (type_of(*normalizer, doc, "normalizer") == "Sequence") {
    const Json& list = as_array(require(*normalizer, "normalizers", doc, "normalizer.normalizers"),
                                doc, "normalizer.normalizers");
    for (std::size_t i = 0; i < list.size(); ++i) {
      parts.emplace_back(&list[i], fmt::format("normalizer.normalizers[{}]", i));
    }
  } else {
    parts.emplace_back(normalizer, "normalizer");
  }
  bool prepend = false;
  bool replace = false;
  for (const auto& [part, path] : parts) {
    const std::string type = type_of(*part, doc, path);
    if (type == "Prepend") {
      if (as_string(require(*part, "prepend", doc, path + ".prepend"), doc, path + ".prepend") !=
          kSpaceMark) {
        fail("{}: field '{}.prepend' must be '▁'", doc.label, path);
      }
      prepend = true;
    } else if (type == "Replace") {
      const Json& pattern = require(*part, "pattern", doc, path + ".pattern");
      const Json* literal = member(pattern, "String");
      if (!literal || as_string(*literal, doc, path + ".pattern.String") != " " ||
          as_string(require(*part, "content", doc, path + ".content"), doc, path + ".content") !=
              kSpaceMark) {
        fail("{}: field '{}' must replace the string \" \" with \"▁\"", doc.label, path);
      }
      replace = true;
    } else {
      fail("{}: field '{}.type' is '{}'; lockstep supports Prepend and Replace here", doc.label,
           path, type);
    }
  }
  if (!replace) fail("{}: field 'normalizer' does not replace ' ' with '▁'", doc.label);
  return prepend;
}

// --- special tokens ------------------------------------------------------------------------

// The token text of a config entry: "text" or {"content": "text", ...}.
std::optional<std::string> special_token_text(const Json& config, const char* key,
                                              const Document& doc) {
  const Json* value = member(config, key);
  if (!value) return std::nullopt;
  if (value->is_string()) return value->get<std::string>();
  if (value->is_object()) {
    return as_string(require(*value, "content", doc, std::string(key) + ".content"), doc,
                     std::string(key) + ".content");
  }
  fail("{}: field '{}' must be a string or an object with 'content'", doc.label, key);
}

struct TemplateSpecials {
  bool found = false;                // there is a TemplateProcessing post-processor
  std::optional<std::string> first;  // special token the single-sequence template starts with
  std::optional<std::string> last;   // ... and ends with
};

// Reads a TemplateProcessing post-processor (alone or in a Sequence). It is only a hint for
// files whose config is silent, so a shape it does not recognise is ignored.
TemplateSpecials template_specials(const Json& root) {
  TemplateSpecials out;
  const Json* post = member(root, "post_processor");
  if (!post || !post->is_object()) return out;
  std::vector<const Json*> candidates{post};
  if (const Json* list = member(*post, "processors"); list && list->is_array()) {
    for (const Json& p : *list) candidates.push_back(&p);
  }
  for (const Json* p : candidates) {
    const Json* type = member(*p, "type");
    if (!type || *type != "TemplateProcessing") continue;
    const Json* single = member(*p, "single");
    if (!single || !single->is_array() || single->empty()) continue;
    auto special_id = [](const Json& piece) -> std::optional<std::string> {
      const Json* special = member(piece, "SpecialToken");
      const Json* id = special ? member(*special, "id") : nullptr;
      if (id && id->is_string()) return id->get<std::string>();
      return std::nullopt;
    };
    out.found = true;
    out.first = special_id(single->front());
    if (single->size() > 1) out.last = special_id(single->back());
    break;
  }
  return out;
}

std::optional<std::string> chat_template(const Json& config, const Document& doc) {
  const Json* value = member(config, "chat_template");
  if (!value) return std::nullopt;
  if (value->is_string()) return value->get<std::string>();
  if (value->is_array() && !value->empty()) {
    const Json* chosen = nullptr;
    for (const Json& entry : *value) {
      const Json* name = member(entry, "name");
      if (!chosen || (name && *name == "default")) chosen = &entry;
      if (name && *name == "default") break;
    }
    return as_string(require(*chosen, "template", doc, "chat_template[].template"), doc,
                     "chat_template[].template");
  }
  fail("{}: field 'chat_template' must be a string or a list of {{name, template}}", doc.label);
}

std::int32_t id_of(const RawTokens& tokens, const std::string& text, const Document& doc,
                   const char* field) {
  auto it = tokens.ids.find(text);
  if (it == tokens.ids.end()) {
    fail("{}: field '{}' is '{}', which is not a token of the vocabulary", doc.label, field, text);
  }
  return it->second;
}

Vocabulary build(const Document& doc, const Document* config) {
  const Json& root = doc.root;
  const Json& model = require(root, "model", doc, "model");
  const std::string model_type = type_of(model, doc, "model");
  if (model_type != "BPE") {
    fail("{}: field 'model.type' is '{}'; lockstep reads BPE tokenizers only", doc.label,
         model_type);
  }
  if (member(model, "dropout")) {
    const Json& dropout = *member(model, "dropout");
    if (!dropout.is_number() || dropout.get<double>() != 0.0) {
      fail("{}: field 'model.dropout' must be null (BPE dropout is not deterministic)", doc.label);
    }
  }
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (const Json* value = member(model, key)) {
      if (!value->is_string() || !value->get<std::string>().empty()) {
        fail("{}: field 'model.{}' must be null; lockstep does not support it", doc.label, key);
      }
    }
  }

  RawTokens tokens = read_tokens(model, member(root, "added_tokens"), doc);
  auto merges = read_merges(model, tokens, doc);
  const Json* normalizer = member(root, "normalizer");
  const auto steps = pre_tokenizer_steps(member(root, "pre_tokenizer"), doc);
  bool byte_level = false;
  for (const auto& [step, path] : steps) {
    byte_level = byte_level || type_of(*step, doc, path) == "ByteLevel";
  }

  Vocabulary v;
  v.source = doc.label;
  v.kind = byte_level ? VocabKind::ByteLevelBpe : VocabKind::SentencePiece;
  if (byte_level) {
    ByteLevelLayout layout = read_byte_level_layout(steps, normalizer, doc);
    v.split_regexes = std::move(layout.regexes);
    v.add_space_prefix = layout.add_prefix_space;
    v.pre_tokenizer = pre_tokenizer_name_for(v.split_regexes);
    if (const Json* ignore = member(model, "ignore_merges")) {
      v.ignore_merges = as_bool(*ignore, doc, "model.ignore_merges");
    }
    v.merges = std::move(merges);
  } else {
    v.add_space_prefix = read_sentencepiece_layout(steps, normalizer, doc);
    v.scores.assign(tokens.texts.size(), -std::numeric_limits<float>::infinity());
    for (std::size_t rank = 0; rank < merges.size(); ++rank) {
      const std::int32_t id = tokens.ids.at(merges[rank].first + merges[rank].second);
      v.scores[id] = std::max(v.scores[id], -static_cast<float>(rank));
    }
    const Json* fallback = member(model, "byte_fallback");
    if (fallback && as_bool(*fallback, doc, "model.byte_fallback")) {
      for (unsigned b = 0; b < 256; ++b) {
        auto it = tokens.ids.find(byte_token_text(static_cast<std::uint8_t>(b)));
        if (it != tokens.ids.end() && tokens.types[it->second] == TokenType::Normal) {
          tokens.types[it->second] = TokenType::Byte;
        }
      }
    }
  }
  if (const Json* unk = member(model, "unk_token")) {
    const std::int32_t id = id_of(tokens, as_string(*unk, doc, "model.unk_token"), doc,
                                  "model.unk_token");
    v.unk_id = id;
    tokens.types[id] = TokenType::Unknown;
  }

  const DefaultFlags flags = default_flags(v.kind);
  v.add_bos = flags.add_bos;
  v.add_eos = flags.add_eos;
  // A TemplateProcessing post-processor says exactly what encode() adds around the text.
  const TemplateSpecials hint = template_specials(root);
  if (hint.found) {
    v.add_bos = hint.first && tokens.ids.count(*hint.first);
    if (v.add_bos) v.bos_id = tokens.ids.at(*hint.first);
    v.add_eos = hint.last && tokens.ids.count(*hint.last);
    if (v.add_eos) v.eos_id = tokens.ids.at(*hint.last);
  }
  if (v.kind == VocabKind::SentencePiece) {
    if (!v.bos_id && tokens.ids.count("<s>")) v.bos_id = tokens.ids.at("<s>");
    if (!v.eos_id && tokens.ids.count("</s>")) v.eos_id = tokens.ids.at("</s>");
  }
  if (config) {
    const Json& c = config->root;
    if (auto text = special_token_text(c, "bos_token", *config)) {
      v.bos_id = id_of(tokens, *text, *config, "bos_token");
    }
    if (auto text = special_token_text(c, "eos_token", *config)) {
      v.eos_id = id_of(tokens, *text, *config, "eos_token");
    }
    if (auto text = special_token_text(c, "pad_token", *config)) {
      auto it = tokens.ids.find(*text);
      if (it != tokens.ids.end()) v.pad_id = it->second;
    }
    if (auto add = optional_bool(c, "add_bos_token", *config, "add_bos_token")) v.add_bos = *add;
    if (auto add = optional_bool(c, "add_eos_token", *config, "add_eos_token")) v.add_eos = *add;
    v.chat_template = chat_template(c, *config);
  }
  if (v.add_bos && !v.bos_id) {
    fail("{}: the tokenizer adds a BOS token but none is named (bos_token in "
         "tokenizer_config.json)", doc.label);
  }
  if (v.add_eos && !v.eos_id) {
    fail("{}: the tokenizer adds an EOS token but none is named (eos_token in "
         "tokenizer_config.json)", doc.label);
  }

  v.tokens = std::move(tokens.texts);
  v.types = std::move(tokens.types);
  add_conventional_end_of_generation_ids(v);
  validate_vocabulary(v);
  return v;
}

}  // namespace

Vocabulary vocabulary_from_tokenizer_json_text(std::string_view json, std::string_view config_json,
                                               const std::string& label) {
  const Document doc = parse(json, label);
  if (config_json.empty()) return build(doc, nullptr);
  const Document config = parse(config_json, label + " (tokenizer_config.json)");
  return build(doc, &config);
}

Vocabulary vocabulary_from_tokenizer_json(const std::string& tokenizer_json_path,
                                          const std::string& tokenizer_config_json_path) {
  const Document doc = parse(read_file(tokenizer_json_path, "tokenizer.json"), tokenizer_json_path);
  if (tokenizer_config_json_path.empty()) return build(doc, nullptr);
  const Document config =
      parse(read_file(tokenizer_config_json_path, "tokenizer_config.json"),
            tokenizer_config_json_path);
  return build(doc, &config);
}

}  // namespace lockstep::tokenizer
