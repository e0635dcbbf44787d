#include "lpu/program/program_binary.h"

#include <bit>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/mapped_file.h"

namespace lockstep::lpu {
namespace {

constexpr char kMagic[8] = {'L', 'O', 'C', 'K', 'P', 'R', 'O', 'G'};
constexpr std::size_t kInstructionBytes = 52;
constexpr std::size_t kSegmentHeaderBytes = 16;
constexpr std::size_t kBufferMinBytes = 4 + 1 + 1 + 4 + 4 + 4 + 4 + 1 + 4;

// Appends little-endian fixed-width fields.
class ByteWriter {
 public:
  void u8(std::uint8_t v) { out_.push_back(v); }
  void u16(std::uint16_t v) { put(v, 2); }
  void u32(std::uint32_t v) { put(v, 4); }
  void u64(std::uint64_t v) { put(v, 8); }
  void i32(std::int32_t v) { u32(static_cast<std::uint32_t>(v)); }
  void i64(std::int64_t v) { u64(static_cast<std::uint64_t>(v)); }
  void f32(float v) { u32(std::bit_cast<std::uint32_t>(v)); }
  void f64(double v) { u64(std::bit_cast<std::uint64_t>(v)); }
  void raw(const void* data, std::size_t n) {
    const auto* p = static_cast<const std::uint8_t*>(data);
    out_.insert(out_.end(), p, p + n);
  }
  void str(const std::string& s) {
    u32(static_cast<std::uint32_t>(s.size()));
    raw(s.data(), s.size());
  }
  std::vector<std::uint8_t> take() { return std::move(out_); }

 private:
  void put(std::uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  std::vector<std::uint8_t> out_;
};

// Reads little-endian fixed-width fields; running past the end is a lockstep::Error naming the
// source and the field.
class ByteReader {
 public:
  ByteReader(std::span<const std::uint8_t> bytes, const std::string& source)
      : bytes_(bytes), source_(source) {}

  std::uint8_t u8(std::string_view what) { return static_cast<std::uint8_t>(get(1, what)); }
  std::uint16_t u16(std::string_view what) { return static_cast<std::uint16_t>(get(2, what)); }
  std::uint32_t u32(std::string_view what) { return static_cast<std::uint32_t>(get(4, what)); }
  std::uint64_t u64(std::string_view what) { return get(8, what); }
  std::int32_t i32(std::string_view what) { return static_cast<std::int32_t>(u32(what)); }
  std::int64_t i64(std::string_view what) { return static_cast<std::int64_t>(u64(what)); }
  float f32(std::string_view what) { return std::bit_cast<float>(u32(what)); }
  double f64(std::string_view what) { return std::bit_cast<double>(u64(what)); }

  std::span<const std::uint8_t> take(std::uint64_t n, std::string_view what) {
    if (n > remaining())
      fail("{}: the file ends inside {} at byte {} ({} bytes needed, {} remain)", source_, what,
           pos_, n, remaining());
    const auto view = bytes_.subspan(pos_, static_cast<std::size_t>(n));
    pos_ += static_cast<std::size_t>(n);
    return view;
  }

  std::string str(std::string_view what) {
    const std::uint32_t n = u32(what);
    const auto view = take(n, what);
    return {view.begin(), view.end()};
  }

  // A uint32 count of items each at least `item_bytes` long, refused when the rest of the input
  // cannot hold them (so nothing is allocated for a count the input does not back).
  std::uint32_t count(std::size_t item_bytes, std::string_view what) {
    const std::uint32_t n = u32(what);
    if (std::uint64_t{n} * item_bytes > remaining())
      fail("{}: {} is {} but only {} bytes remain at byte {}", source_, what, n, remaining(), pos_);
    return n;
  }

  std::size_t remaining() const { return bytes_.size() - pos_; }
  std::size_t position() const { return pos_; }
  const std::string& source() const { return source_; }

 private:
  std::uint64_t get(int n, std::string_view what) {
    const auto view = take(static_cast<std::uint64_t>(n), what);
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= std::uint64_t{view[i]} << (8 * i);
    return v;
  }

  std::span<const std::uint8_t> bytes_;
  std::size_t pos_ = 0;
  const std::string& source_;
};

void write_instruction(ByteWriter& w, const Instruction& in) {
  w.u64(in.cycle);
  w.u32(in.repeat);
  w.u16(in.stride);
  w.u8(static_cast<std::uint8_t>(in.opcode));
  w.u8(in.width);
  w.raw(in.in, 4);
  w.u8(in.out);
  w.u8(in.reach);
  w.u16(0);
  w.u32(in.addr);
  w.i32(in.addr_step);
  w.i32(in.imm);
  w.i32(in.imm2);
  w.i32(in.imm3);
  w.f32(in.fimm);
  w.u32(in.order);
}

bool is_stream_byte(std::uint8_t byte) { return byte == kNoStream || byte < 64; }

// The fields the encoding alone makes invalid; where() names the instruction (only formatted
// for an error, as a program holds many instructions).
template <typename Where>
void validate_instruction(const Instruction& in, std::uint8_t opcode, std::uint16_t reserved,
                          Where&& where) {
  if (opcode >= kOpcodeCount)
    fail("{}: opcode {} does not exist (opcodes are 0 to {})", where(), opcode, kOpcodeCount - 1);
  if (in.repeat == 0) fail("{}: repeat is 0; an instruction runs at least once", where());
  if (in.stride == 0) fail("{}: stride is 0; iterations are at least one cycle apart", where());
  for (std::uint8_t s : in.in)
    if (!is_stream_byte(s)) fail("{}: input stream byte {:#04x} is not a stream", where(), s);
  if (!is_stream_byte(in.out))
    fail("{}: output stream byte {:#04x} is not a stream", where(), in.out);
  if (reserved != 0) fail("{}: the reserved field is {}, not 0", where(), reserved);
}

Instruction read_instruction(ByteReader& r, int queue, std::uint32_t index) {
  constexpr std::string_view what = "an instruction record";
  Instruction in;
  in.cycle = r.u64(what);
  in.repeat = r.u32(what);
  in.stride = r.u16(what);
  const std::uint8_t opcode = r.u8(what);
  in.width = r.u8(what);
  for (auto& s : in.in) s = r.u8(what);
  in.out = r.u8(what);
  in.reach = r.u8(what);
  const std::uint16_t reserved = r.u16(what);
  in.addr = r.u32(what);
  in.addr_step = r.i32(what);
  in.imm = r.i32(what);
  in.imm2 = r.i32(what);
  in.imm3 = r.i32(what);
  in.fimm = r.f32(what);
  in.order = r.u32(what);
  validate_instruction(in, opcode, reserved, [&] {
    return fmt::format("{}: queue {} instruction {}", r.source(), queue, index);
  });
  in.opcode = static_cast<Opcode>(opcode);
  return in;
}

std::vector<Instruction> read_queue(ByteReader& r, int queue) {
  const std::uint32_t n =
      r.count(kInstructionBytes, fmt::format("the instruction count of queue {}", queue));
  std::vector<Instruction> instructions;
  instructions.reserve(n);
  for (std::uint32_t i = 0; i < n; ++i) instructions.push_back(read_instruction(r, queue, i));
  return instructions;
}

MemorySegment read_segment(ByteReader& r, std::uint32_t index) {
  const std::string what = fmt::format("memory segment {}", index);
  MemorySegment segment;
  segment.slice = r.i32(what);
  segment.addr = r.u32(what);
  const auto bytes = r.take(r.u64(what), what);
  segment.bytes.assign(bytes.begin(), bytes.end());
  return segment;
}

HostBuffer read_buffer(ByteReader& r, std::uint32_t index) {
  const std::string what = fmt::format("host buffer {}", index);
  HostBuffer buffer;
  buffer.name = r.str(what);
  const std::uint8_t is_input = r.u8(what);
  const std::uint8_t type = r.u8(what);
  buffer.slice = r.i32(what);
  buffer.addr = r.u32(what);
  buffer.vectors = r.u32(what);
  buffer.elements = r.u32(what);
  const std::uint8_t role = r.u8(what);
  buffer.stripe = r.u32(what);
  if (role >= kHostRoleCount)
    fail("{}: {} ('{}') has role {}, which does not exist (0 to {})", r.source(), what, buffer.name,
         role, kHostRoleCount - 1);
  buffer.role = static_cast<HostRole>(role);
  if (is_input > 1)
    fail("{}: {} ('{}') has input flag {}, not 0 or 1", r.source(), what, buffer.name, is_input);
  if (type > static_cast<std::uint8_t>(ElementType::I32))
    fail("{}: {} ('{}') has element type {}, which does not exist (0 to 3)", r.source(), what,
         buffer.name, type);
  buffer.is_input = is_input == 1;
  buffer.type = static_cast<ElementType>(type);
  return buffer;
}

void write_host(ByteWriter& w, const HostInterface& h) {
  w.u32(h.rows);
  w.u32(h.vector_bytes);
  w.u32(h.lanes);
  w.i64(h.context);
  w.i64(h.n_vocab);
  w.i64(h.shard.token_first);
  w.i64(h.shard.vocab_first);
  w.i64(h.vocab_rows);
  w.u32(h.logits_stride);
  w.u32(h.logits_stripes);
  w.i64(h.rope.head_dim);
  w.f64(h.rope.theta);
  w.f64(h.rope.linear_scale);
  w.u32(static_cast<std::uint32_t>(h.rope.freq_factors.size()));
  for (float f : h.rope.freq_factors) w.f32(f);
}

HostInterface read_host(ByteReader& r) {
  constexpr std::string_view what = "the host interface";
  HostInterface h;
  h.rows = r.u32(what);
  h.vector_bytes = r.u32(what);
  h.lanes = r.u32(what);
  h.context = r.i64(what);
  h.n_vocab = r.i64(what);
  h.shard.token_first = r.i64(what);
  h.shard.vocab_first = r.i64(what);
  h.vocab_rows = r.i64(what);
  h.logits_stride = r.u32(what);
  h.logits_stripes = r.u32(what);
  h.rope.head_dim = r.i64(what);
  h.rope.theta = r.f64(what);
  h.rope.linear_scale = r.f64(what);
  const std::uint32_t factors = r.count(4, "the RoPE frequency factor count");
  h.rope.freq_factors.reserve(factors);
  for (std::uint32_t i = 0; i < factors; ++i) h.rope.freq_factors.push_back(r.f32(what));
  return h;
}

void read_header(ByteReader& r) {
  const auto magic = r.take(sizeof kMagic, "the magic bytes");
  if (std::memcmp(magic.data(), kMagic, sizeof kMagic) != 0)
    fail("{}: not a lockstep program (the file does not start with \"LOCKPROG\")", r.source());
  const std::uint32_t version = r.u32("the format version");
  if (version < kProgramBinaryVersion)
    fail("{}: program format version {} predates {} (this build reads version {}); compile it "
         "again with 'lockstep compile -o'", r.source(), version,
         version < 2 ? "host interfaces" : "the instructions' memory order", kProgramBinaryVersion);
  if (version != kProgramBinaryVersion)
    fail("{}: program format version {} is not supported; this build reads version {} only",
         r.source(), version, kProgramBinaryVersion);
}

}  // namespace

std::vector<std::uint8_t> write_program_binary(const Program& program) {
  ByteWriter w;
  w.raw(kMagic, sizeof kMagic);
  w.u32(kProgramBinaryVersion);
  w.str(program.system);
  w.str(program.description);
  w.u64(program.predicted_cycles);
  w.u64(program.dataflow_cycles);
  w.u32(static_cast<std::uint32_t>(program.queues.size()));
  for (const auto& queue : program.queues) {
    w.u32(static_cast<std::uint32_t>(queue.size()));
    for (const auto& instruction : queue) write_instruction(w, instruction);
  }
  w.u32(static_cast<std::uint32_t>(program.memory.size()));
  for (const auto& segment : program.memory) {
    w.i32(segment.slice);
    w.u32(segment.addr);
    w.u64(segment.bytes.size());
    w.raw(segment.bytes.data(), segment.bytes.size());
  }
  w.u32(static_cast<std::uint32_t>(program.buffers.size()));
  for (const auto& buffer : program.buffers) {
    w.str(buffer.name);
    w.u8(buffer.is_input ? 1 : 0);
    w.u8(static_cast<std::uint8_t>(buffer.type));
    w.i32(buffer.slice);
    w.u32(buffer.addr);
    w.u32(buffer.vectors);
    w.u32(buffer.elements);
    w.u8(static_cast<std::uint8_t>(buffer.role));
    w.u32(buffer.stripe);
  }
  write_host(w, program.host);
  return w.take();
}

Program read_program_binary(std::span<const std::uint8_t> bytes, const std::string& source_name) {
  ByteReader r(bytes, source_name);
  read_header(r);
  Program program;
  program.system = r.str("the system name");
  program.description = r.str("the description");
  program.predicted_cycles = r.u64("the predicted cycle count");
  program.dataflow_cycles = r.u64("the dataflow cycle count");
  const std::uint32_t queues = r.count(4, "the queue count");
  program.queues.reserve(queues);
  for (std::uint32_t q = 0; q < queues; ++q)
    program.queues.push_back(read_queue(r, static_cast<int>(q)));
  const std::uint32_t segments = r.count(kSegmentHeaderBytes, "the memory segment count");
  program.memory.reserve(segments);
  for (std::uint32_t s = 0; s < segments; ++s) program.memory.push_back(read_segment(r, s));
  const std::uint32_t buffers = r.count(kBufferMinBytes, "the host buffer count");
  program.buffers.reserve(buffers);
  for (std::uint32_t b = 0; b < buffers; ++b) program.buffers.push_back(read_buffer(r, b));
  program.host = read_host(r);
  if (r.remaining() != 0)
    fail(
        "{}: {} bytes follow the host interface at byte {}; the file is longer than its "
        "contents",
        source_name, r.remaining(), r.position());
  return program;
}

void save_program(const Program& program, const std::string& path) {
  const auto bytes = write_program_binary(program);
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail("{}: cannot create the file", tmp);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) {
      std::remove(tmp.c_str());
      fail("{}: writing the program failed (disk full?)", path);
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    fail("{}: cannot move the finished program into place ({})", path, ec.message());
  }
}

Program load_program(const std::string& path) {
  const auto file = MappedFile::open(path);
  return read_program_binary(file->bytes(), path);
}

}  // namespace lockstep::lpu
