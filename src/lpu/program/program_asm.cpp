#include "lpu/program/program_asm.h"

#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <iterator>
#include <limits>
#include <set>
#include <span>
#include <type_traits>
#include <utility>

#include "core/error.h"
#include "lpu/program/host_interface.h"

namespace lockstep::lpu {
namespace {

constexpr std::size_t kHexBytesPerLine = 32;
constexpr char kHexDigits[] = "0123456789abcdef";

// Which Instruction fields an opcode uses (isa.h's notes); these are always written.
struct OperandUse {
  int inputs = 0;       // in[0 .. inputs) written after the mnemonic
  bool output = false;  // `-> out reach=`
  bool addr = false;
  bool imm = false;
  bool imm23 = false;  // imm2, imm3
  bool fimm = false;
};

OperandUse operand_use(Opcode op) {
  const OpcodeInfo& info = opcode_info(op);
  OperandUse use;
  use.inputs = info.stream_inputs;
  use.output = info.stream_outputs > 0;
  use.addr = info.unit != Unit::Vxm && info.unit != Unit::Sxm && info.unit != Unit::C2c;
  switch (op) {
    case Opcode::Gather:
    case Opcode::Scatter: use.imm = use.imm23 = true; break;
    case Opcode::InstallWeights:
    case Opcode::Compute:
    case Opcode::Rotate:
    case Opcode::Distribute:
    case Opcode::ConvertF16ToF32: use.imm = true; break;
    case Opcode::AddImm:
    case Opcode::MulImm: use.fimm = true; break;
    default: break;
  }
  return use;
}

constexpr std::array<std::string_view, 4> kElementTypeNames = {"f32", "f16", "i8", "i32"};

bool is_element_type(std::int64_t v) { return v >= 0 && v < std::ssize(kElementTypeNames); }

// ---------------------------------------------------------------------------------------------
// Writing

bool is_stream_byte(std::uint8_t byte) { return byte == kNoStream || byte < 64; }

std::string stream_text(std::uint8_t byte) {
  if (byte == kNoStream) return "-";
  const StreamId s = decode_stream(byte);
  return fmt::format("{}{}", s.direction == Direction::East ? 'e' : 'w', s.index);
}

std::string float_text(float f) {
  if (std::isnan(f)) return fmt::format("nan:{:#010x}", std::bit_cast<std::uint32_t>(f));
  return fmt::format("{}", f);
}

// Finite doubles in their shortest round-trip decimal form, others as bits:0x<16 hex digits>.
std::string double_text(double d) {
  if (std::isfinite(d)) return fmt::format("{}", d);
  return fmt::format("bits:{:#018x}", std::bit_cast<std::uint64_t>(d));
}

std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    const auto byte = static_cast<unsigned char>(ch);
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (byte < 0x20 || byte == 0x7f) {
      out += fmt::format("\\x{:02x}", byte);
    } else {
      out += ch;
    }
  }
  return out + '"';
}

std::string_view element_type_text(ElementType type) {
  const auto i = static_cast<std::size_t>(type);
  if (i >= kElementTypeNames.size()) fail("element type {} does not exist", i);
  return kElementTypeNames[i];
}

std::string slice_text(int slice, const Floorplan& floorplan) {
  if (slice >= 0 && slice < floorplan.mem_slices())
    return floorplan.queues()[floorplan.mem_queue(slice)].name;
  return std::to_string(slice);
}

// The operands of one instruction after its mnemonic, in the order the header comment gives.
std::vector<std::string> operand_tokens(const Instruction& in) {
  const OperandUse use = operand_use(in.opcode);
  std::vector<std::string> t;
  for (int k = 0; k < use.inputs; ++k) t.push_back(stream_text(in.in[k]));
  if (use.output) {
    t.push_back("->");
    t.push_back(stream_text(in.out));
  }
  if (use.output || in.reach != 0) t.push_back(fmt::format("reach={}", in.reach));
  if (in.width != 1) t.push_back(fmt::format("width={}", in.width));
  if (use.addr || in.addr != 0) t.push_back(fmt::format("addr={}", in.addr));
  if (in.addr_step != 0) t.push_back(fmt::format("step={}", in.addr_step));
  if (in.opcode == Opcode::InstallWeights && is_element_type(in.imm))
    t.push_back(fmt::format("type={}", kElementTypeNames[in.imm]));
  else if (use.imm || in.imm != 0)
    t.push_back(fmt::format("imm={}", in.imm));
  if (use.imm23 || in.imm2 != 0) t.push_back(fmt::format("imm2={}", in.imm2));
  if (use.imm23 || in.imm3 != 0) t.push_back(fmt::format("imm3={}", in.imm3));
  if (use.fimm || std::bit_cast<std::uint32_t>(in.fimm) != 0)
    t.push_back(fmt::format("fimm={}", float_text(in.fimm)));
  for (int k = use.inputs; k < 4; ++k)
    if (in.in[k] != kNoStream) t.push_back(fmt::format("in{}={}", k, stream_text(in.in[k])));
  if (!use.output && in.out != kNoStream) t.push_back(fmt::format("out={}", stream_text(in.out)));
  if (in.order != 0) t.push_back(fmt::format("order={}", in.order));
  if (in.repeat != 1 || in.stride != 1) t.push_back(fmt::format("x{}/{}", in.repeat, in.stride));
  return t;
}

// What assembly cannot spell: an opcode outside the table, a stream byte that is no stream.
void check_writable(const std::string& queue, const Instruction& in) {
  if (static_cast<int>(in.opcode) >= kOpcodeCount)
    fail("queue {} @{}: opcode {} does not exist", queue, in.cycle, static_cast<int>(in.opcode));
  bool streams_ok = is_stream_byte(in.out);
  for (std::uint8_t s : in.in) streams_ok = streams_ok && is_stream_byte(s);
  if (!streams_ok)
    fail("queue {} @{}: a stream byte is neither a stream (0..63) nor kNoStream", queue, in.cycle);
}

std::string instruction_line(const std::string& queue, const Instruction& in) {
  check_writable(queue, in);
  const auto operands = operand_tokens(in);
  std::string line = fmt::format("{:<11} {:<9} {}", queue, fmt::format("@{}", in.cycle),
                                 opcode_info(in.opcode).mnemonic);
  if (operands.empty()) return line;
  line.resize(std::max<std::size_t>(line.size(), 11 + 1 + 9 + 1 + 11), ' ');
  for (const auto& token : operands) line += " " + token;
  return line;
}

void write_header(std::string& out, const Program& program, const Floorplan& floorplan) {
  out += fmt::format("# lockstep LPU program, assembly format {}\n.format {}\n", kProgramAsmVersion,
                     kProgramAsmVersion);
  out += fmt::format(".system {}\n.description {}\n.predicted_cycles {}\n", quoted(program.system),
                     quoted(program.description), program.predicted_cycles);
  if (program.dataflow_cycles != 0) out += fmt::format(".dataflow_cycles {}\n", program.dataflow_cycles);
  for (const auto& b : program.buffers) {
    out +=
        fmt::format(".buffer {} {} slice={} addr={} vectors={} type={} elements={}",
                    b.is_input ? "input" : "output", quoted(b.name), slice_text(b.slice, floorplan),
                    b.addr, b.vectors, element_type_text(b.type), b.elements);
    if (b.role != HostRole::Unspecified) out += fmt::format(" role={}", host_role_name(b.role));
    if (b.stripe != 0) out += fmt::format(" stripe={}", b.stripe);
    out += "\n";
  }
  const HostInterface& h = program.host;
  if (h == HostInterface{}) return;
  out += fmt::format(
      ".host rows={} vector_bytes={} lanes={} context={} n_vocab={} token_first={} vocab_first={} "
      "vocab_rows={} logits_stride={} logits_stripes={} head_dim={} rope_theta={} rope_scale={}\n",
      h.rows, h.vector_bytes, h.lanes, h.context, h.n_vocab, h.shard.token_first, h.shard.vocab_first,
      h.vocab_rows, h.logits_stride, h.logits_stripes, h.rope.head_dim, double_text(h.rope.theta),
      double_text(h.rope.linear_scale));
  if (!h.rope.freq_factors.empty()) {
    out += ".rope_freq_factors";
    for (float f : h.rope.freq_factors) out += " " + float_text(f);
    out += "\n";
  }
}

void write_queues(std::string& out, const Program& program, const Floorplan& floorplan) {
  for (int q = 0; q < floorplan.queue_count(); ++q) {
    const auto& queue = program.queues[q];
    if (queue.empty()) continue;
    const QueueInfo& info = floorplan.queues()[q];
    out += fmt::format("\n# {}: {} queue at position {}, {} instruction{}\n", info.name,
                       unit_name(info.unit), info.position, queue.size(),
                       queue.size() == 1 ? "" : "s");
    for (const auto& in : queue) out += instruction_line(info.name, in) + "\n";
  }
}

void write_memory(std::string& out, const Program& program, const Floorplan& floorplan,
                  bool include_data) {
  if (!program.memory.empty()) out += "\n";
  for (const auto& segment : program.memory) {
    out += fmt::format("{}.memory slice={} addr={} bytes={}{}\n", include_data ? "" : "# ",
                       slice_text(segment.slice, floorplan), segment.addr, segment.bytes.size(),
                       include_data ? "" : " (data omitted)");
    if (!include_data) continue;
    for (std::size_t i = 0; i < segment.bytes.size(); i += kHexBytesPerLine) {
      const std::size_t end = std::min(segment.bytes.size(), i + kHexBytesPerLine);
      for (std::size_t j = i; j < end; ++j) {
        out += kHexDigits[segment.bytes[j] >> 4];
        out += kHexDigits[segment.bytes[j] & 15];
      }
      out += '\n';
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Parsing

struct Token {
  std::string text;
  bool quoted = false;
};

// Where a parse is: errors are "<source>:<line>: <what>".
struct LineContext {
  const std::string& source;
  int line = 0;

  template <typename... Args>
  [[noreturn]] void error(fmt::format_string<Args...> format, Args&&... args) const {
    fail("{}:{}: {}", source, line, fmt::format(format, std::forward<Args>(args)...));
  }
};

// A token as quoted in an error message (bounded, so hostile input cannot make it huge).
std::string shown(std::string_view text) {
  constexpr std::size_t kMax = 40;
  return text.size() <= kMax ? std::string(text) : std::string(text.substr(0, kMax)) + "...";
}

int hex_digit(char ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

bool is_space(char ch) { return ch == ' ' || ch == '\t'; }

// Reads a quoted string starting at line[i] == '"'; returns the index after the closing quote.
std::size_t read_quoted(std::string_view line, std::size_t i, std::string& out,
                        const LineContext& ctx) {
  for (++i; i < line.size() && line[i] != '"'; ++i) {
    if (line[i] != '\\') {
      out += line[i];
      continue;
    }
    if (i + 1 >= line.size()) ctx.error("a string is not closed (missing '\"')");
    const char next = line[++i];
    if (next == '"' || next == '\\') {
      out += next;
    } else if (next == 'x' && i + 2 < line.size() && hex_digit(line[i + 1]) >= 0 &&
               hex_digit(line[i + 2]) >= 0) {
      out += static_cast<char>(hex_digit(line[i + 1]) * 16 + hex_digit(line[i + 2]));
      i += 2;
    } else {
      ctx.error("unknown escape '\\{}' in a string (use \\\", \\\\ or \\xNN)", shown({&next, 1}));
    }
  }
  if (i >= line.size()) ctx.error("a string is not closed (missing '\"')");
  return i + 1;
}

// Splits a line into bare and quoted tokens; `#` at the start of a token begins a comment.
std::vector<Token> tokenize(std::string_view line, const LineContext& ctx) {
  std::vector<Token> tokens;
  std::size_t i = 0;
  while (true) {
    while (i < line.size() && is_space(line[i])) ++i;
    if (i >= line.size() || line[i] == '#') break;
    Token token;
    if (line[i] == '"') {
      token.quoted = true;
      i = read_quoted(line, i, token.text, ctx);
      if (i < line.size() && !is_space(line[i]))
        ctx.error("expected a space after the closing '\"' of a string");
    } else {
      const std::size_t start = i;
      while (i < line.size() && !is_space(line[i])) ++i;
      token.text = line.substr(start, i - start);
    }
    tokens.push_back(std::move(token));
  }
  return tokens;
}

template <typename T>
T parse_integer(std::string_view text, const LineContext& ctx, std::string_view what) {
  using Wide = std::conditional_t<std::is_signed_v<T>, std::int64_t, std::uint64_t>;
  Wide v{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty())
    ctx.error("{} '{}' is not a whole number", what, shown(text));
  if (!std::in_range<T>(v))
    ctx.error("{} {} is out of range ({} to {})", what, v, std::numeric_limits<T>::min(),
              std::numeric_limits<T>::max());
  return static_cast<T>(v);
}

// nan:0x<8 hex digits>, the bits of a NaN.
float parse_nan(std::string_view text, const LineContext& ctx) {
  const std::string_view hex = text.substr(4);
  std::uint32_t bits = 0;
  const auto [end, ec] = std::from_chars(hex.data() + std::min<std::size_t>(2, hex.size()),
                                         hex.data() + hex.size(), bits, 16);
  const float f = std::bit_cast<float>(bits);
  if (!hex.starts_with("0x") || hex.size() != 10 || ec != std::errc() ||
      end != hex.data() + hex.size() || !std::isnan(f))
    ctx.error("'{}' is not a NaN (write nan:0x followed by the 8 hex digits of a NaN's bits)",
              shown(text));
  return f;
}

float parse_float(std::string_view text, const LineContext& ctx) {
  if (text.starts_with("nan:")) return parse_nan(text, ctx);
  float f = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), f);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty())
    ctx.error("fimm '{}' is not a float32 number", shown(text));
  return f;
}

bool is_stream_token(std::string_view text) {
  if (text == "-") return true;
  if (text.size() < 2 || (text[0] != 'e' && text[0] != 'w')) return false;
  for (char ch : text.substr(1))
    if (ch < '0' || ch > '9') return false;
  return true;
}

std::uint8_t parse_stream(std::string_view text, const LineContext& ctx) {
  if (!is_stream_token(text))
    ctx.error("'{}' is not a stream (write e0..e31 for east, w0..w31 for west, - for none)",
              shown(text));
  if (text == "-") return kNoStream;
  const auto index = parse_integer<std::uint32_t>(text.substr(1), ctx, "the stream index");
  if (index > 31) ctx.error("stream index {} is out of range (0 to 31)", index);
  return encode_stream(
      {text[0] == 'e' ? Direction::East : Direction::West, static_cast<std::uint8_t>(index)});
}

ElementType parse_element_type(std::string_view text, const LineContext& ctx) {
  for (std::size_t i = 0; i < kElementTypeNames.size(); ++i)
    if (kElementTypeNames[i] == text) return static_cast<ElementType>(i);
  ctx.error("element type '{}' does not exist (f32, f16, i8 or i32)", shown(text));
}

std::pair<std::string_view, std::string_view> split_key(const Token& token,
                                                        const LineContext& ctx) {
  const std::size_t eq = token.text.find('=');
  if (token.quoted || eq == std::string::npos || eq == 0 || eq + 1 == token.text.size())
    ctx.error("expected key=value, found '{}'", shown(token.text));
  const std::string_view text = token.text;
  return {text.substr(0, eq), text.substr(eq + 1)};
}

// key=value operands, each key at most once.
class KeyValues {
 public:
  explicit KeyValues(const LineContext& ctx) : ctx_(ctx) {}
  std::pair<std::string_view, std::string_view> next(const Token& token) {
    auto kv = split_key(token, ctx_);
    if (!seen_.insert(std::string(kv.first)).second)
      ctx_.error("operand '{}' is given twice", shown(kv.first));
    return kv;
  }

 private:
  const LineContext& ctx_;
  std::set<std::string> seen_;
};

void parse_repeat(std::string_view text, Instruction& in, const LineContext& ctx) {
  const std::size_t slash = text.find('/');
  if (slash == std::string_view::npos)
    ctx.error("repeat '{}' must be written x<count>/<stride>", shown(text));
  in.repeat = parse_integer<std::uint32_t>(text.substr(1, slash - 1), ctx, "the repeat count");
  in.stride = parse_integer<std::uint16_t>(text.substr(slash + 1), ctx, "the repeat stride");
  if (in.repeat == 0) ctx.error("repeat count 0: an instruction runs at least once");
  if (in.stride == 0) ctx.error("repeat stride 0: iterations are at least one cycle apart");
}

bool is_repeat_token(const Token& token) {
  return !token.quoted && token.text.size() >= 2 && token.text[0] == 'x' && token.text[1] >= '0' &&
         token.text[1] <= '9';
}

using OperandSetter = void (*)(Instruction&, std::string_view key, std::string_view value,
                               const LineContext&);

template <auto Field>
void set_integer(Instruction& in, std::string_view key, std::string_view value,
                 const LineContext& ctx) {
  in.*Field = parse_integer<std::remove_cvref_t<decltype(in.*Field)>>(value, ctx, key);
}

constexpr std::pair<std::string_view, OperandSetter> kIntegerOperands[] = {
    {"reach", &set_integer<&Instruction::reach>}, {"width", &set_integer<&Instruction::width>},
    {"addr", &set_integer<&Instruction::addr>},   {"step", &set_integer<&Instruction::addr_step>},
    {"imm", &set_integer<&Instruction::imm>},     {"imm2", &set_integer<&Instruction::imm2>},
    {"imm3", &set_integer<&Instruction::imm3>},   {"order", &set_integer<&Instruction::order>},
};

// in0..in3 and out as keys: only for the stream slots the opcode does not use.
void set_unused_stream(Instruction& in, std::string_view key, std::string_view value,
                       const LineContext& ctx) {
  const OperandUse use = operand_use(in.opcode);
  const std::string_view mnemonic = opcode_info(in.opcode).mnemonic;
  if (key == "out") {
    if (use.output) ctx.error("the output stream of {} is written after '->'", mnemonic);
    in.out = parse_stream(value, ctx);
    return;
  }
  const int k = key[2] - '0';
  if (k < use.inputs)
    ctx.error("{} reads in{} as its input stream after the mnemonic", mnemonic, k);
  in.in[k] = parse_stream(value, ctx);
}

void set_operand(Instruction& in, std::string_view key, std::string_view value,
                 const LineContext& ctx) {
  for (const auto& [name, set] : kIntegerOperands)
    if (key == name) return set(in, key, value, ctx);
  if (key == "fimm") {
    in.fimm = parse_float(value, ctx);
  } else if (key == "type" && in.opcode == Opcode::InstallWeights) {
    in.imm = static_cast<std::int32_t>(parse_element_type(value, ctx));
  } else if (key == "out" ||
             (key.size() == 3 && key.starts_with("in") && key[2] >= '0' && key[2] <= '3')) {
    set_unused_stream(in, key, value, ctx);
  } else {
    ctx.error(
        "{} has no operand '{}' (operands: reach width addr step imm imm2 imm3 fimm "
        "in0..in3 out order, and type for iw)",
        opcode_info(in.opcode).mnemonic, shown(key));
  }
}

// The streams, `-> out` and key=value operands after the mnemonic.
void parse_operands(std::span<const Token> t, Instruction& in, const LineContext& ctx) {
  const OperandUse use = operand_use(in.opcode);
  const std::string_view mnemonic = opcode_info(in.opcode).mnemonic;
  std::size_t i = 0;
  int inputs = 0;
  for (; i < t.size() && !t[i].quoted && is_stream_token(t[i].text); ++i, ++inputs)
    if (inputs < 4) in.in[inputs] = parse_stream(t[i].text, ctx);
  if (inputs != use.inputs)
    ctx.error("{} reads {} input stream{}, but {} {} written", mnemonic, use.inputs,
              use.inputs == 1 ? "" : "s", inputs, inputs == 1 ? "is" : "are");
  const bool arrow = i < t.size() && t[i].text == "->" && !t[i].quoted;
  if (arrow && !use.output) ctx.error("{} writes no output stream; remove '->'", mnemonic);
  if (!arrow && use.output)
    ctx.error("{} writes an output stream: write '-> e0' (or '-> -') after its inputs", mnemonic);
  if (arrow) {
    if (i + 1 >= t.size()) ctx.error("expected a stream after '->'");
    in.out = parse_stream(t[i + 1].text, ctx);
    i += 2;
  }
  KeyValues keys(ctx);
  bool repeat_seen = false;
  bool imm_seen = false;
  for (; i < t.size(); ++i) {
    if (is_repeat_token(t[i])) {
      if (repeat_seen) ctx.error("the repeat is given twice");
      repeat_seen = true;
      parse_repeat(t[i].text, in, ctx);
      continue;
    }
    const auto [key, value] = keys.next(t[i]);
    if ((key == "imm" || key == "type") && std::exchange(imm_seen, true))
      ctx.error("imm is given twice (type= sets imm)");
    set_operand(in, key, value, ctx);
  }
}

class AsmParser {
 public:
  AsmParser(const Floorplan& floorplan, const std::string& source)
      : floorplan_(floorplan), ctx_{source} {
    program_.queues.resize(floorplan.queue_count());
  }

  Program parse(std::string_view text) {
    while (!text.empty()) {
      const std::size_t eol = text.find('\n');
      std::string_view line = text.substr(0, eol);
      text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
      if (line.ends_with('\r')) line.remove_suffix(1);
      ++ctx_.line;
      const auto tokens = tokenize(line, ctx_);
      if (!tokens.empty()) parse_line(tokens);
    }
    if (pending_hex_ > 0) {
      ctx_.line = memory_line_;
      ctx_.error("the memory segment lacks {} bytes of hex data before the end of the text",
                 pending_hex_);
    }
    return std::move(program_);
  }

 private:
  void parse_line(const std::vector<Token>& t) {
    if (pending_hex_ > 0) return parse_hex(t);
    if (t[0].quoted) ctx_.error("a line cannot start with a string");
    if (t[0].text.starts_with('.')) return parse_directive(t);
    parse_instruction(t);
  }

  void parse_hex(const std::vector<Token>& t) {
    const std::string& hex = t[0].text;
    if (t.size() != 1 || t[0].quoted || hex.size() % 2 != 0)
      ctx_.error("expected a line of hex bytes (the memory segment of line {} lacks {} bytes)",
                 memory_line_, pending_hex_);
    if (hex.size() / 2 > pending_hex_)
      ctx_.error("{} bytes of hex data, but the memory segment of line {} lacks only {}",
                 hex.size() / 2, memory_line_, pending_hex_);
    auto& bytes = program_.memory.back().bytes;
    for (std::size_t i = 0; i < hex.size(); i += 2) {
      const int hi = hex_digit(hex[i]), lo = hex_digit(hex[i + 1]);
      if (hi < 0 || lo < 0) ctx_.error("'{}' is not hex data", shown(hex.substr(i, 2)));
      bytes.push_back(static_cast<std::uint8_t>(hi * 16 + lo));
    }
    pending_hex_ -= hex.size() / 2;
  }

  void parse_directive(const std::vector<Token>& t) {
    const std::string& name = t[0].text;
    const bool repeatable = name == ".buffer" || name == ".memory";
    if (!repeatable && !directives_seen_.insert(name).second)
      ctx_.error("{} is given twice", shown(name));
    if (name == ".format") return parse_format(t);
    if (name == ".system")
      program_.system = single_string(t);
    else if (name == ".description")
      program_.description = single_string(t);
    else if (name == ".predicted_cycles")
      program_.predicted_cycles = parse_integer<std::uint64_t>(single_bare(t), ctx_, name);
    else if (name == ".dataflow_cycles")
      program_.dataflow_cycles = parse_integer<std::uint64_t>(single_bare(t), ctx_, name);
    else if (name == ".buffer")
      parse_buffer(t);
    else if (name == ".host")
      parse_host(t);
    else if (name == ".rope_freq_factors")
      for (std::size_t i = 1; i < t.size(); ++i)
        program_.host.rope.freq_factors.push_back(parse_float(t[i].text, ctx_));
    else if (name == ".memory")
      parse_memory(t);
    else
      ctx_.error(
          "unknown directive '{}' (.format .system .description .predicted_cycles "
          ".dataflow_cycles .buffer .host .rope_freq_factors .memory)",
          shown(name));
  }

  void parse_format(const std::vector<Token>& t) {
    const auto version = parse_integer<std::int64_t>(single_bare(t), ctx_, ".format");
    if (version != kProgramAsmVersion)
      ctx_.error("assembly format {} is not supported; this build reads format {} only", version,
                 kProgramAsmVersion);
  }

  const std::string& single_string(const std::vector<Token>& t) {
    if (t.size() != 2 || !t[1].quoted) ctx_.error("{} takes one double-quoted string", t[0].text);
    return t[1].text;
  }

  std::string_view single_bare(const std::vector<Token>& t) {
    if (t.size() != 2 || t[1].quoted) ctx_.error("{} takes one number", t[0].text);
    return t[1].text;
  }

  int parse_slice(std::string_view text) {
    const int q = floorplan_.find_queue(std::string(text));
    if (q >= 0 && floorplan_.queues()[q].unit == Unit::Mem) return floorplan_.queues()[q].index;
    if (!text.empty() && (text[0] == '-' || (text[0] >= '0' && text[0] <= '9')))
      return parse_integer<std::int32_t>(text, ctx_, "slice");
    ctx_.error("slice '{}' is not a MEM slice (write mem.w0 .. or a global slice number)",
               shown(text));
  }

  void parse_buffer(const std::vector<Token>& t) {
    if (t.size() < 3 || t[1].quoted || (t[1].text != "input" && t[1].text != "output") ||
        !t[2].quoted)
      ctx_.error(
          ".buffer is written: .buffer input|output \"name\" slice=.. addr=.. "
          "vectors=.. type=.. elements=..");
    HostBuffer& b = program_.buffers.emplace_back();
    b.is_input = t[1].text == "input";
    b.name = t[2].text;
    parse_placed_keys(t, 3, b.slice, b.addr, [&](std::string_view key, std::string_view value) {
      if (key == "vectors")
        b.vectors = parse_integer<std::uint32_t>(value, ctx_, key);
      else if (key == "type")
        b.type = parse_element_type(value, ctx_);
      else if (key == "elements")
        b.elements = parse_integer<std::uint32_t>(value, ctx_, key);
      else if (key == "role") {
        b.role = host_role_from_name(value);
        if (b.role == HostRole::Unspecified) ctx_.error("'{}' is not a host buffer role", shown(value));
      } else if (key == "stripe")
        b.stripe = parse_integer<std::uint32_t>(value, ctx_, key);
      else
        return false;
      return true;
    });
  }

  double parse_double(std::string_view text, std::string_view what) {
    if (text.starts_with("bits:0x") && text.size() == 23) {
      std::uint64_t bits = 0;
      const auto [end, ec] = std::from_chars(text.data() + 7, text.data() + text.size(), bits, 16);
      if (ec == std::errc() && end == text.data() + text.size()) return std::bit_cast<double>(bits);
      ctx_.error("{} '{}' is not bits:0x followed by 16 hex digits", what, shown(text));
    }
    double v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size() || text.empty())
      ctx_.error("{} '{}' is not a number", what, shown(text));
    return v;
  }

  // .host key=value ...: the host interface (program.h), every field optional.
  void parse_host(const std::vector<Token>& t) {
    HostInterface& h = program_.host;
    KeyValues keys(ctx_);
    for (std::size_t i = 1; i < t.size(); ++i) {
      const auto [key, value] = keys.next(t[i]);
      if (key == "rows") h.rows = parse_integer<std::uint32_t>(value, ctx_, key);
      else if (key == "vector_bytes") h.vector_bytes = parse_integer<std::uint32_t>(value, ctx_, key);
      else if (key == "lanes") h.lanes = parse_integer<std::uint32_t>(value, ctx_, key);
      else if (key == "context") h.context = parse_integer<std::int64_t>(value, ctx_, key);
      else if (key == "n_vocab") h.n_vocab = parse_integer<std::int64_t>(value, ctx_, key);
      else if (key == "token_first") h.shard.token_first = parse_integer<std::int64_t>(value, ctx_, key);
      else if (key == "vocab_first") h.shard.vocab_first = parse_integer<std::int64_t>(value, ctx_, key);
      else if (key == "vocab_rows") h.vocab_rows = parse_integer<std::int64_t>(value, ctx_, key);
      else if (key == "logits_stride") h.logits_stride = parse_integer<std::uint32_t>(value, ctx_, key);
      else if (key == "logits_stripes") h.logits_stripes = parse_integer<std::uint32_t>(value, ctx_, key);
      else if (key == "head_dim") h.rope.head_dim = parse_integer<std::int64_t>(value, ctx_, key);
      else if (key == "rope_theta") h.rope.theta = parse_double(value, key);
      else if (key == "rope_scale") h.rope.linear_scale = parse_double(value, key);
      else ctx_.error(".host has no field '{}'", shown(key));
    }
  }

  void parse_memory(const std::vector<Token>& t) {
    MemorySegment& segment = program_.memory.emplace_back();
    parse_placed_keys(t, 1, segment.slice, segment.addr,
                      [&](std::string_view key, std::string_view value) {
                        if (key != "bytes") return false;
                        pending_hex_ = parse_integer<std::uint64_t>(value, ctx_, key);
                        return true;
                      });
    memory_line_ = ctx_.line;
  }

  // The key=value fields of .buffer and .memory from t[first]: slice= and addr= here, the rest
  // by `set_other`, which returns false for a key it does not know.
  template <typename SetOther>
  void parse_placed_keys(const std::vector<Token>& t, std::size_t first, int& slice,
                         std::uint32_t& addr, SetOther&& set_other) {
    KeyValues keys(ctx_);
    for (std::size_t i = first; i < t.size(); ++i) {
      const auto [key, value] = keys.next(t[i]);
      if (key == "slice")
        slice = parse_slice(value);
      else if (key == "addr")
        addr = parse_integer<std::uint32_t>(value, ctx_, key);
      else if (!set_other(key, value))
        ctx_.error("{} has no field '{}'", t[0].text, shown(key));
    }
  }

  void parse_instruction(const std::vector<Token>& t) {
    const int q = floorplan_.find_queue(t[0].text);
    if (q < 0)
      ctx_.error("unknown queue '{}' (queues are named like mem.w12, vxm.3, sxm.e, mxm.e0.lw)",
                 shown(t[0].text));
    if (t.size() < 3 || t[1].quoted || !t[1].text.starts_with('@'))
      ctx_.error("expected '<queue> @<cycle> <mnemonic> <operands>'");
    Instruction in;
    in.cycle = parse_integer<std::uint64_t>(std::string_view(t[1].text).substr(1), ctx_,
                                            "the issue cycle");
    const auto opcode = opcode_from_mnemonic(t[2].text);
    if (!opcode || t[2].quoted) ctx_.error("unknown mnemonic '{}'", shown(t[2].text));
    in.opcode = *opcode;
    parse_operands(std::span(t).subspan(3), in, ctx_);
    program_.queues[q].push_back(in);
  }

  const Floorplan& floorplan_;
  LineContext ctx_;
  Program program_;
  std::uint64_t pending_hex_ = 0;
  int memory_line_ = 0;
  std::set<std::string> directives_seen_;
};

}  // namespace

std::string write_program_asm(const Program& program, const Floorplan& floorplan,
                              AsmOptions options) {
  if (std::ssize(program.queues) != floorplan.queue_count())
    fail(
        "the program has {} instruction queues but the floorplan has {}; assembly names "
        "queues by the floorplan",
        program.queues.size(), floorplan.queue_count());
  std::string out;
  write_header(out, program, floorplan);
  write_queues(out, program, floorplan);
  write_memory(out, program, floorplan, options.include_memory);
  return out;
}

Program parse_program_asm(std::string_view text, const Floorplan& floorplan,
                          const std::string& source_name) {
  return AsmParser(floorplan, source_name).parse(text);
}

}  // namespace lockstep::lpu
