#include "serve/completion_request.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <utility>

#include "core/json_depth.h"

namespace lockstep::serve {

namespace {

using nlohmann::json;

// A real request nests 5 deep (body > messages > message > content > part); 64 leaves room for
// ignored keys (metadata). nlohmann's parser recurses once per level, so deeper bodies are
// refused before it runs.
constexpr int kMaxNesting = 64;

// Floats that hold an integer exactly (2^53): 3.0 or 1e3 are read as integers, 1e300 is not.
constexpr double kMaxExactInteger = 9007199254740992.0;

// What the parser does with a top-level key (see the header).
enum class KeyUse {
  Read,     // a parameter lockstep implements
  Refused,  // OpenAI defines it, lockstep does not implement it: 400 unless harmless()
  Ignored,  // changes nothing lockstep does: accepted, and dropped while parsing
};

// The endpoints that know a key.
constexpr unsigned kChat = 1, kCompletions = 2, kBoth = kChat | kCompletions;

struct KnownKey {
  std::string_view name;
  KeyUse use;
  unsigned endpoints;
};

// Every key lockstep knows. The rest are refused by name, as OpenAI refuses them: a client
// never gets something other than what it asked for without knowing.
constexpr KnownKey kKnownKeys[] = {
    {"model", KeyUse::Read, kBoth},
    {"messages", KeyUse::Read, kChat},
    {"prompt", KeyUse::Read, kCompletions},
    {"max_tokens", KeyUse::Read, kBoth},
    {"max_completion_tokens", KeyUse::Read, kChat},
    {"temperature", KeyUse::Read, kBoth},
    {"top_p", KeyUse::Read, kBoth},
    {"top_k", KeyUse::Read, kBoth},
    {"min_p", KeyUse::Read, kBoth},
    {"repetition_penalty", KeyUse::Read, kBoth},
    {"seed", KeyUse::Read, kBoth},
    {"stop", KeyUse::Read, kBoth},
    {"presence_penalty", KeyUse::Read, kBoth},
    {"frequency_penalty", KeyUse::Read, kBoth},
    {"logprobs", KeyUse::Read, kBoth},
    {"top_logprobs", KeyUse::Read, kChat},
    {"n", KeyUse::Read, kBoth},
    {"stream", KeyUse::Read, kBoth},
    {"stream_options", KeyUse::Read, kBoth},
    {"echo", KeyUse::Read, kCompletions},
    {"tools", KeyUse::Refused, kChat},
    {"tool_choice", KeyUse::Refused, kChat},
    {"functions", KeyUse::Refused, kChat},
    {"function_call", KeyUse::Refused, kChat},
    {"response_format", KeyUse::Refused, kChat},
    {"audio", KeyUse::Refused, kChat},
    {"modalities", KeyUse::Refused, kChat},
    {"prediction", KeyUse::Refused, kChat},
    {"reasoning_effort", KeyUse::Refused, kChat},
    {"web_search_options", KeyUse::Refused, kChat},
    {"verbosity", KeyUse::Refused, kChat},
    {"logit_bias", KeyUse::Refused, kBoth},
    {"best_of", KeyUse::Refused, kCompletions},
    {"suffix", KeyUse::Refused, kCompletions},
    {"user", KeyUse::Ignored, kBoth},
    {"metadata", KeyUse::Ignored, kBoth},
    {"store", KeyUse::Ignored, kBoth},
    {"service_tier", KeyUse::Ignored, kBoth},
    {"parallel_tool_calls", KeyUse::Ignored, kBoth},
    {"prompt_cache_key", KeyUse::Ignored, kBoth},
    {"safety_identifier", KeyUse::Ignored, kBoth},
};

unsigned endpoint_bit(Endpoint endpoint) {
  return endpoint == Endpoint::ChatCompletions ? kChat : kCompletions;
}

// The entry for `key` on `endpoint`, or nullptr when the endpoint does not know it.
const KnownKey* find_key(Endpoint endpoint, std::string_view key) {
  for (const KnownKey& k : kKnownKeys)
    if (k.name == key) return (k.endpoints & endpoint_bit(endpoint)) != 0 ? &k : nullptr;
  return nullptr;
}

// Members whose value the parser looks at; the others are dropped while parsing, so that a key
// that is not read holds no memory however large its value.
bool is_read(Endpoint endpoint, std::string_view key) {
  const KnownKey* k = find_key(endpoint, key);
  return k != nullptr && k->use != KeyUse::Ignored;
}

// A parsed value costs up to ~100 bytes (a 16-byte json, a heap map or vector, a string). A
// real request spends more than 8 bytes of body on each value it holds (the tightest is a list
// of short text parts, {"type":"text","text":""} = 3 values in 25 bytes); bodies denser than
// one value per 6 bytes ("[{},{},...]") are refused before the tree is built, which keeps the
// tree under ~17 times the body.
std::size_t max_values(std::size_t body_bytes) { return 256 + body_bytes / 6; }

// Counts the values inside the members parse_body keeps, without building anything, and notes
// the first key the endpoint does not know whose value is not null.
class ValueCounter {
 public:
  ValueCounter(std::size_t limit, Endpoint endpoint) : limit_(limit), endpoint_(endpoint) {}
  bool over() const { return over_; }
  // The first unknown key with a value other than null (its first kKeyBytes bytes), if any.
  const std::optional<std::string>& unknown_key() const { return unknown_key_; }

  bool null() { return value(/*is_null=*/true); }
  bool boolean(bool) { return value(); }
  bool number_integer(json::number_integer_t) { return value(); }
  bool number_unsigned(json::number_unsigned_t) { return value(); }
  bool number_float(json::number_float_t, const json::string_t&) { return value(); }
  bool string(json::string_t&) { return value(); }
  bool binary(json::binary_t&) { return value(); }
  bool start_object(std::size_t) { return open(); }
  bool start_array(std::size_t) { return open(); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }
  bool key(json::string_t& k) {
    if (depth_ == 1) {
      counting_ = is_read(endpoint_, k);
      pending_ = !unknown_key_ && find_key(endpoint_, k) == nullptr;
      if (pending_) pending_key_.assign(k, 0, kKeyBytes);
    }
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) {
    return false;  // the real parse reports it
  }

 private:
  // Enough of a key for the error message, which shows at most 40 bytes (quote()).
  static constexpr std::size_t kKeyBytes = 64;

  bool value(bool is_null = false) {
    if (depth_ == 1 && pending_) {  // the value of an unknown key
      if (!is_null) unknown_key_ = pending_key_;
      pending_ = false;
    }
    if (depth_ == 0 || !counting_) return true;
    over_ = ++values_ > limit_;
    return !over_;
  }
  bool open() {
    const bool ok = value();
    ++depth_;
    return ok;
  }
  bool close() {
    --depth_;
    return true;
  }

  std::size_t limit_, values_ = 0;
  Endpoint endpoint_;
  int depth_ = 0;
  bool counting_ = false, over_ = false, pending_ = false;
  std::string pending_key_;
  std::optional<std::string> unknown_key_;
};

// The largest part of a client's string echoed back in a message, cut at a UTF-8 boundary
// ("..." marks a cut).
std::string shortened(const std::string& s) {
  constexpr std::size_t kMax = 40;
  if (s.size() <= kMax) return s;
  std::size_t end = kMax;
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  return s.substr(0, end) + "...";
}

std::string quote(const std::string& s) { return "'" + shortened(s) + "'"; }

// "a string", "an integer", ... as OpenAI's messages name JSON types.
std::string kind(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::object: return "an object";
    case json::value_t::array: return "an array";
    case json::value_t::string: return "a string";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "an integer";
    case json::value_t::number_float: return "a decimal number";
    default: return "an unknown value";
  }
}

// The value as the client wrote it, for "but got X instead".
std::string shown(const json& v) {
  if (v.is_string()) return quote(v.get_ref<const std::string&>());
  if (v.is_number_float()) return fmt::format("{}", v.get<double>());
  if (v.is_number_unsigned()) return fmt::format("{}", v.get<std::uint64_t>());
  if (v.is_number_integer()) return fmt::format("{}", v.get<std::int64_t>());
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  return kind(v);
}

[[noreturn]] void wrong_type(const std::string& param, const std::string& expected, const json& v) {
  throw invalid_request(param,
                        fmt::format("Invalid type for '{}': expected {}, but got {} instead.", param,
                                    expected, kind(v)),
                        "invalid_type");
}

[[noreturn]] void wrong_value(const std::string& param, const std::string& expected, const json& v) {
  throw invalid_request(param,
                        fmt::format("Invalid value for '{}': expected {}, but got {} instead.",
                                    param, expected, shown(v)),
                        "invalid_value");
}

[[noreturn]] void missing(const std::string& param) {
  throw invalid_request(param, fmt::format("Missing required parameter: '{}'.", param),
                        "missing_required_parameter");
}

// The member, or nullptr when absent or null (OpenAI reads null as "not given").
const json* member(const json& object, const char* key) {
  const auto it = object.find(key);
  return it == object.end() || it->is_null() ? nullptr : &*it;
}

// A request body: the members the parser reads, and the first key the endpoint does not know.
struct Body {
  json members;
  std::optional<std::string> unknown_key;  // its first 64 bytes
};

Body parse_body(Endpoint endpoint, std::string_view body) {
  if (body.size() > kMaxRequestBodyBytes)
    throw ApiError(413, "invalid_request_error",
                   fmt::format("The request body is {} bytes; the limit is {} bytes.", body.size(),
                               kMaxRequestBodyBytes),
                   {}, "request_too_large");
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos)
    throw ApiError(400, "invalid_request_error",
                   "The request body is empty; expected a JSON object.");
  if (json_nesting_depth(body, kMaxNesting) > kMaxNesting)
    throw ApiError(400, "invalid_request_error",
                   fmt::format("The request body nests arrays and objects more than {} levels "
                               "deep.", kMaxNesting));
  ValueCounter counter(max_values(body.size()), endpoint);
  json::sax_parse(body.begin(), body.end(), &counter, json::input_format_t::json, true);
  if (counter.over())
    throw ApiError(400, "invalid_request_error",
                   fmt::format("The request body holds more than {} JSON values in the parameters "
                               "lockstep reads, more than a request of {} bytes can use.",
                               max_values(body.size()), body.size()));
  const json::parser_callback_t keep_read_members = [endpoint](int depth, json::parse_event_t event,
                                                               json& parsed) {
    return !(depth == 1 && event == json::parse_event_t::key &&
             !is_read(endpoint, parsed.get_ref<const std::string&>()));
  };
  json j;
  try {
    j = json::parse(body.begin(), body.end(), keep_read_members);
  } catch (const json::exception& e) {
    // "[json.exception.parse_error.101] parse error at line 1, column 4: ...; last read: '...'":
    // the bracketed id and the echo of the bytes read (which may not be UTF-8) are left out.
    std::string what = e.what();
    if (const auto close = what.find("] "); what.starts_with("[json.") && close != std::string::npos)
      what.erase(0, close + 2);
    if (const auto last = what.find("; last read"); last != std::string::npos) what.erase(last);
    throw ApiError(400, "invalid_request_error",
                   fmt::format("The request body is not valid JSON ({}).", what));
  }
  if (!j.is_object())
    throw ApiError(400, "invalid_request_error",
                   fmt::format("The request body must be a JSON object, but got {} instead.",
                               kind(j)));
  return {std::move(j), counter.unknown_key()};
}

const std::string& string_value(const std::string& param, const json& v) {
  if (!v.is_string()) wrong_type(param, "a string", v);
  return v.get_ref<const std::string&>();
}

bool bool_value(const std::string& param, const json& v) {
  if (!v.is_boolean()) wrong_type(param, "a boolean", v);
  return v.get<bool>();
}

double number_value(const std::string& param, const json& v) {
  if (!v.is_number()) wrong_type(param, "a number", v);
  return v.get<double>();
}

// A number in [lo, hi] (lo excluded when lo_open).
double number_in(const std::string& param, const json& v, double lo, bool lo_open, double hi) {
  const double x = number_value(param, v);
  if (!(lo_open ? x > lo : x >= lo) || !(x <= hi))
    wrong_value(param,
                lo_open ? fmt::format("a number greater than {} and at most {}", lo, hi)
                        : fmt::format("a number between {} and {}", lo, hi),
                v);
  return x;
}

// An integer JSON value (or a float holding one exactly), as int64 when it fits; `wide` holds a
// value above INT64_MAX; `beyond` marks a float too large to be exact (1e300), out of every
// parameter's range.
struct IntegerValue {
  std::int64_t value = 0;
  bool above_int64 = false;
  std::uint64_t wide = 0;
  bool beyond = false;
};

IntegerValue integer_value(const std::string& param, const json& v) {
  IntegerValue out;
  if (v.is_number_unsigned()) {
    out.wide = v.get<std::uint64_t>();
    if (out.wide > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      out.above_int64 = true;
    else
      out.value = static_cast<std::int64_t>(out.wide);
  } else if (v.is_number_integer()) {
    out.value = v.get<std::int64_t>();
  } else if (v.is_number_float()) {
    const double x = v.get<double>();
    if (!std::isfinite(x) || std::floor(x) != x) wrong_type(param, "an integer", v);
    if (std::fabs(x) > kMaxExactInteger)
      out.beyond = true;
    else
      out.value = static_cast<std::int64_t>(x);
  } else {
    wrong_type(param, "an integer", v);
  }
  return out;
}

std::int64_t integer_in(const std::string& param, const json& v, std::int64_t lo, std::int64_t hi) {
  const IntegerValue i = integer_value(param, v);
  if (i.above_int64 || i.beyond || i.value < lo || i.value > hi)
    wrong_value(param,
                hi == std::numeric_limits<std::int64_t>::max()
                    ? fmt::format("an integer of at least {}", lo)
                    : fmt::format("an integer between {} and {}", lo, hi),
                v);
  return i.value;
}

// A parameter lockstep does not implement is accepted only at a value that changes nothing.
bool harmless(const std::string& key, const json& v) {
  if ((v.is_array() || v.is_object()) && v.empty()) return true;
  if (key == "tool_choice" && v == "none") return true;
  if (key == "response_format" && v.is_object() && v.size() == 1 && v.contains("type") &&
      v["type"] == "text")
    return true;
  if (key == "best_of" && v.is_number() && v == 1) return true;
  if (key == "suffix" && v == "") return true;
  return false;
}

// A message's content: a string, or an array of {type: "text", text} parts, concatenated.
std::string message_content(const std::string& param, const json& content) {
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array()) wrong_type(param, "a string or an array of text parts", content);
  std::string text;
  for (std::size_t j = 0; j < content.size(); ++j) {
    const std::string part_param = fmt::format("{}[{}]", param, j);
    const json& part = content[j];
    if (!part.is_object()) wrong_type(part_param, "an object", part);
    const json* type = member(part, "type");
    if (type == nullptr) missing(part_param + ".type");
    const std::string& type_name = string_value(part_param + ".type", *type);
    if (type_name != "text")
      throw invalid_request(part_param + ".type",
                            fmt::format("Invalid value for '{}.type': {}; lockstep reads only "
                                        "text parts (type 'text').",
                                        part_param, quote(type_name)),
                            "invalid_value");
    const json* part_text = member(part, "text");
    if (part_text == nullptr) missing(part_param + ".text");
    text += string_value(part_param + ".text", *part_text);
  }
  return text;
}

std::vector<runtime::ChatMessage> parse_messages(const json& body) {
  const json* messages = member(body, "messages");
  if (messages == nullptr) missing("messages");
  if (!messages->is_array()) wrong_type("messages", "an array", *messages);
  if (messages->empty())
    throw invalid_request("messages",
                          "Invalid value for 'messages': expected a non-empty array of messages, "
                          "but got an empty array instead.",
                          "empty_array");
  std::vector<runtime::ChatMessage> out;
  out.reserve(messages->size());
  for (std::size_t i = 0; i < messages->size(); ++i) {
    const std::string param = fmt::format("messages[{}]", i);
    const json& message = (*messages)[i];
    if (!message.is_object()) wrong_type(param, "an object", message);
    const json* role = member(message, "role");
    if (role == nullptr) missing(param + ".role");
    std::string role_name = string_value(param + ".role", *role);
    if (role_name == "developer") role_name = "system";
    if (role_name != "system" && role_name != "user" && role_name != "assistant")
      throw invalid_request(param + ".role",
                            fmt::format("Invalid value for '{}.role': {}; supported values are "
                                        "system, user, assistant and developer.",
                                        param, quote(role->get<std::string>())),
                            "invalid_value");
    const json* content = member(message, "content");
    if (content == nullptr) missing(param + ".content");
    out.push_back({std::move(role_name), message_content(param + ".content", *content)});
  }
  return out;
}

std::string parse_prompt(const json& body) {
  const json* prompt = member(body, "prompt");
  if (prompt == nullptr) missing("prompt");
  if (prompt->is_string()) return prompt->get<std::string>();
  if (!prompt->is_array()) wrong_type("prompt", "a string or an array of one string", *prompt);
  if (prompt->size() != 1)
    throw invalid_request("prompt",
                          fmt::format("Invalid value for 'prompt': expected one prompt, but got an "
                                      "array of {}; lockstep generates one completion per request.",
                                      prompt->size()),
                          "unsupported_value");
  return string_value("prompt[0]", (*prompt)[0]);
}

std::vector<std::string> parse_stop(const json& stop) {
  auto one = [](const std::string& param, const json& v) {
    const std::string& s = string_value(param, v);
    if (s.empty())
      throw invalid_request(param,
                            fmt::format("Invalid value for '{}': stop strings must not be empty.",
                                        param),
                            "invalid_value");
    return s;
  };
  if (stop.is_string()) return {one("stop", stop)};
  if (!stop.is_array()) wrong_type("stop", "a string or an array of strings", stop);
  if (stop.size() > 4)
    throw invalid_request("stop",
                          fmt::format("Invalid value for 'stop': expected at most 4 strings, but "
                                      "got {}.",
                                      stop.size()),
                          "invalid_value");
  std::vector<std::string> out;
  for (std::size_t i = 0; i < stop.size(); ++i)
    out.push_back(one(fmt::format("stop[{}]", i), stop[i]));
  return out;
}

}  // namespace

ApiError::ApiError(int status_, std::string type_, std::string message, std::string param_,
                   std::string code_)
    : std::runtime_error(std::move(message)),
      status(status_),
      type(std::move(type_)),
      param(std::move(param_)),
      code(std::move(code_)) {}

ApiError invalid_request(std::string param, std::string message, std::string code) {
  return ApiError(400, "invalid_request_error", std::move(message), std::move(param),
                  std::move(code));
}

std::string error_body(const ApiError& error) {
  nlohmann::ordered_json e;
  e["message"] = error.what();
  e["type"] = error.type;
  e["param"] = error.param.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(error.param);
  e["code"] = error.code.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(error.code);
  nlohmann::ordered_json body;
  body["error"] = std::move(e);
  // Messages quote the client's strings, cut to a length; replace keeps any broken byte printable.
  return body.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

CompletionRequest parse_completion_request(Endpoint endpoint, std::string_view body_text) {
  const Body parsed = parse_body(endpoint, body_text);
  const json& body = parsed.members;
  const bool chat = endpoint == Endpoint::ChatCompletions;
  CompletionRequest r;
  r.endpoint = endpoint;

  const json* model = member(body, "model");
  if (model == nullptr) missing("model");
  r.model = string_value("model", *model);
  if (r.model.empty()) wrong_value("model", "a model name", *model);

  if (chat)
    r.messages = parse_messages(body);
  else
    r.prompt = parse_prompt(body);

  if (parsed.unknown_key) {
    const std::string key = shortened(*parsed.unknown_key);
    throw invalid_request(key, fmt::format("Unrecognized request argument supplied: {}", key),
                          "unknown_parameter");
  }
  for (const KnownKey& known : kKnownKeys) {
    if (known.use != KeyUse::Refused) continue;
    const std::string key(known.name);
    if (const json* v = member(body, key.c_str()); v != nullptr && !harmless(key, *v))
      throw invalid_request(key,
                            fmt::format("Unsupported parameter: '{}' is not supported by lockstep; "
                                        "remove it from the request.",
                                        key),
                            "unsupported_parameter");
  }

  constexpr std::int64_t kInt64Max = std::numeric_limits<std::int64_t>::max();
  for (const char* key : {"max_tokens", "max_completion_tokens"})
    if (const json* v = member(body, key)) {
      const std::int64_t n = integer_in(key, *v, 1, kInt64Max);
      r.max_tokens = r.max_tokens ? std::min(*r.max_tokens, n) : n;
    }
  if (const json* v = member(body, "temperature")) r.temperature = number_in("temperature", *v, 0, false, 2);
  if (const json* v = member(body, "top_p")) r.top_p = number_in("top_p", *v, 0, true, 1);
  if (const json* v = member(body, "top_k")) {
    const std::int64_t k = integer_in("top_k", *v, -1, std::numeric_limits<std::int32_t>::max());
    r.top_k = static_cast<std::int32_t>(std::max<std::int64_t>(k, 0));  // -1 is vLLM's "off"
  }
  // min_p and repetition_penalty are checked as the sampler holds them, as floats.
  if (const json* v = member(body, "min_p")) {
    const auto x = static_cast<float>(number_value("min_p", *v));
    if (!(x >= 0.0f && x < 1.0f)) wrong_value("min_p", "a number at least 0 and less than 1", *v);
    r.min_p = x;
  }
  if (const json* v = member(body, "repetition_penalty")) {
    const auto x = static_cast<float>(number_value("repetition_penalty", *v));
    if (!(x > 0.0f) || !std::isfinite(x)) wrong_value("repetition_penalty", "a positive number", *v);
    r.repetition_penalty = x;
  }
  if (const json* v = member(body, "presence_penalty"))
    r.presence_penalty = number_in("presence_penalty", *v, -2, false, 2);
  if (const json* v = member(body, "frequency_penalty"))
    r.frequency_penalty = number_in("frequency_penalty", *v, -2, false, 2);

  if (const json* v = member(body, "seed")) {
    const IntegerValue i = integer_value("seed", *v);
    if (i.beyond)
      wrong_value("seed", "an integer between -9223372036854775808 and 18446744073709551615", *v);
    r.seed = i.above_int64 ? i.wide : static_cast<std::uint64_t>(i.value);
  }
  if (const json* v = member(body, "stop")) r.stop = parse_stop(*v);

  if (chat) {
    if (const json* v = member(body, "logprobs")) r.logprobs = bool_value("logprobs", *v);
    if (const json* v = member(body, "top_logprobs")) {
      r.top_logprobs = static_cast<int>(integer_in("top_logprobs", *v, 0, 20));
      if (!r.logprobs)
        throw invalid_request("top_logprobs",
                              "Invalid value for 'top_logprobs': it needs 'logprobs' to be true.",
                              "invalid_value");
    }
  } else {
    // Completions: logprobs is the number of alternatives (0..5); present means on.
    if (const json* v = member(body, "logprobs")) {
      r.top_logprobs = static_cast<int>(integer_in("logprobs", *v, 0, 5));
      r.logprobs = true;
    }
    if (const json* v = member(body, "echo"); v != nullptr && bool_value("echo", *v))
      throw invalid_request("echo",
                            "Unsupported value: 'echo' must be false; lockstep returns only the "
                            "completion, not the prompt.",
                            "unsupported_value");
  }

  if (const json* v = member(body, "n"); v != nullptr && integer_value("n", *v).value != 1)
    throw invalid_request("n", "'n' must be 1: lockstep generates one choice per request.",
                          "unsupported_value");
  if (const json* v = member(body, "stream")) r.stream = bool_value("stream", *v);
  if (const json* v = member(body, "stream_options")) {
    if (!v->is_object()) wrong_type("stream_options", "an object", *v);
    if (!r.stream)
      throw invalid_request("stream_options",
                            "Invalid value for 'stream_options': it is only allowed when 'stream' "
                            "is true.",
                            "invalid_value");
    if (const json* u = member(*v, "include_usage"))
      r.include_usage = bool_value("stream_options.include_usage", *u);
  }
  return r;
}

}  // namespace lockstep::serve
