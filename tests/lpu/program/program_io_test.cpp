// Program serialisation: the binary and assembly forms round-trip every program exactly (random
// valid and random odd ones, many seeds); the assembly of a small program is pinned; hostile
// binaries (every truncation, flipped bytes, bad fields, a newer version) and bad assembly give
// one lockstep::Error naming the source (and the line), never a crash.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "lpu/program/program_asm.h"
#include "lpu/program/program_binary.h"
#include "support/expect_error.h"
#include "support/lpu_chip.h"
#include "support/paths.h"
#include "support/random_program.h"

namespace lockstep::lpu {
namespace {

using testing::expect_error_naming;

constexpr int kSeeds = 300;

const ChipConfig& chip() { return testing::test_chip(); }
const Floorplan& floorplan() { return testing::test_floorplan(); }
StreamId east(int i) { return {Direction::East, static_cast<std::uint8_t>(i)}; }
StreamId west(int i) { return {Direction::West, static_cast<std::uint8_t>(i)}; }

// A small hand-made program: a MEM read feeding a VXM add-immediate written back to MEM, an
// MXM install, a host buffer and one vector of memory.
Program small_program() {
  const Floorplan& f = floorplan();
  Program p;
  p.system = "lpu-v1";
  p.description = "a \"small\" program";
  p.predicted_cycles = 42;
  p.dataflow_cycles = 30;
  p.queues.resize(f.queue_count());
  Instruction read;
  read.opcode = Opcode::Read;
  read.out = encode_stream(east(3));
  read.reach = static_cast<std::uint8_t>(f.vxm_position());
  read.addr = 8;
  read.repeat = 4;
  read.stride = 2;
  read.addr_step = 1;
  read.order = 1;
  p.queues[f.mem_queue(0)].push_back(read);
  Instruction write;
  write.opcode = Opcode::Write;
  write.cycle = 20;
  write.in[0] = encode_stream(west(7));
  write.addr = 100;
  write.width = 2;
  write.order = 1;
  p.queues[f.mem_queue(0)].push_back(write);
  Instruction addi;
  addi.opcode = Opcode::AddImm;
  addi.cycle = 4;
  addi.in[0] = encode_stream(east(3));
  addi.out = encode_stream(west(7));
  addi.reach = static_cast<std::uint8_t>(f.mem_position(0));
  addi.fimm = 0.1f;
  addi.repeat = 4;
  addi.stride = 2;
  p.queues[f.vxm_queue(0)].push_back(addi);
  Instruction install;
  install.opcode = Opcode::InstallWeights;
  install.cycle = 7;
  install.addr = 320;
  install.imm = static_cast<std::int32_t>(ElementType::I8);
  p.queues[f.mxm_queue(2, Unit::MxmCompute)].push_back(install);
  p.buffers.push_back({"token", true, 0, 8, 1, ElementType::I32, 1});
  MemorySegment segment{45, 2, std::vector<std::uint8_t>(40)};
  for (std::size_t i = 0; i < segment.bytes.size(); ++i)
    segment.bytes[i] = static_cast<std::uint8_t>(i * 7);
  p.memory.push_back(segment);
  return p;
}

constexpr std::string_view kSmallProgramAsm = R"(# lockstep LPU program, assembly format 1
.format 1
.system "lpu-v1"
.description "a \"small\" program"
.predicted_cycles 42
.dataflow_cycles 30
.buffer input "token" slice=mem.w0 addr=8 vectors=1 type=i32 elements=1

# mem.w0: mem queue at position 46, 2 instructions
mem.w0      @0        read        -> e3 reach=47 addr=8 step=1 order=1 x4/2
mem.w0      @20       write       w7 width=2 addr=100 order=1

# mxm.e0.abc: mxm.abc queue at position 93, 1 instruction
mxm.e0.abc  @7        iw          addr=320 type=i8

# vxm.0: vxm queue at position 47, 1 instruction
vxm.0       @4        addi        e3 -> w7 reach=46 fimm=0.1 x4/2

.memory slice=mem.e1 addr=2 bytes=40
00070e151c232a31383f464d545b626970777e858c939aa1a8afb6bdc4cbd2d9
e0e7eef5fc030a11
)";

Program asm_round_trip(const Program& p) {
  return parse_program_asm(write_program_asm(p, floorplan()), floorplan(), "rt.s");
}

Program binary_round_trip(const Program& p) {
  return read_program_binary(write_program_binary(p), "rt.lpuprog");
}

TEST(ProgramAsmTest, SmallProgramTextIsPinned) {
  EXPECT_EQ(write_program_asm(small_program(), floorplan()), kSmallProgramAsm);
  EXPECT_EQ(parse_program_asm(kSmallProgramAsm, floorplan(), "small.s"), small_program());
}

TEST(ProgramIoTest, ValidProgramsRoundTripExactly) {
  for (int seed = 1; seed <= kSeeds; ++seed) {
    const Program p = testing::random_valid_program(seed, chip(), floorplan());
    ASSERT_EQ(binary_round_trip(p), p) << "seed " << seed;
    ASSERT_EQ(asm_round_trip(p), p) << "seed " << seed << "\n" << write_program_asm(p, floorplan());
  }
}

TEST(ProgramIoTest, EveryEncodableFieldRoundTripsExactly) {
  for (int seed = 1; seed <= kSeeds; ++seed) {
    const Program p = testing::random_encodable_program(seed, floorplan());
    ASSERT_EQ(binary_round_trip(p), p) << "seed " << seed;
    ASSERT_EQ(asm_round_trip(p), p) << "seed " << seed << "\n" << write_program_asm(p, floorplan());
  }
}

TEST(ProgramIoTest, NanImmediatesKeepTheirBits) {
  Program p = small_program();
  for (std::uint32_t bits : {0x7fc00000u, 0xffc00001u, 0x7f800001u}) {
    p.queues[floorplan().vxm_queue(0)][0].fimm = std::bit_cast<float>(bits);
    for (const Program& back : {asm_round_trip(p), binary_round_trip(p)})
      EXPECT_EQ(std::bit_cast<std::uint32_t>(back.queues[floorplan().vxm_queue(0)][0].fimm), bits);
  }
}

TEST(ProgramIoTest, FilesRoundTrip) {
  const std::string path = testing::scratch_dir("programs") + "/small.lpuprog";
  save_program(small_program(), path);
  EXPECT_EQ(load_program(path), small_program());
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  expect_error_naming([&] { load_program(path + ".missing"); }, "small.lpuprog.missing", {});
}

TEST(ProgramAsmTest, WithoutMemoryListsSegmentsInComments) {
  const std::string text =
      write_program_asm(small_program(), floorplan(), {.include_memory = false});
  EXPECT_NE(text.find("# .memory slice=mem.e1 addr=2 bytes=40 (data omitted)"), std::string::npos);
  Program expected = small_program();
  expected.memory.clear();
  EXPECT_EQ(parse_program_asm(text, floorplan(), "nomem.s"), expected);
}

TEST(ProgramAsmTest, WriterRefusesAProgramOfAnotherQueueCount) {
  Program p = small_program();
  p.queues.pop_back();
  EXPECT_THROW(write_program_asm(p, floorplan()), Error);
}

TEST(ProgramAsmTest, AcceptsHandWrittenVariants) {
  const std::string text =
      "# hand written\r\n"
      "vxm.3 @10 add e1 w2 -> e4 reach=50   # a comment\r\n"
      "\n"
      "mem.e0 @1 read -> e0 x2/3 reach=60 addr=4\n"
      "vxm.3 @11 muli e4 -> e5 fimm=-1.5e-3 reach=47\n"
      ".memory slice=44 addr=0 bytes=3\n"
      "  0A0b\n"
      "  # still data\n"
      "  ff\n";
  const Program p = parse_program_asm(text, floorplan(), "hand.s");
  ASSERT_EQ(p.queues[floorplan().vxm_queue(3)].size(), 2u);
  EXPECT_EQ(p.queues[floorplan().vxm_queue(3)][1].fimm, -1.5e-3f);
  const Instruction& read = p.queues[floorplan().mem_queue(44)][0];
  EXPECT_EQ(read.repeat, 2u);
  EXPECT_EQ(read.stride, 3);
  EXPECT_EQ(read.addr, 4u);
  EXPECT_EQ(p.memory[0].bytes, (std::vector<std::uint8_t>{0x0a, 0x0b, 0xff}));
  EXPECT_EQ(p.system, "");
}

// ----- hostile binaries

std::size_t first_instruction_offset(const Program& p) {
  return 8 + 4 + 4 + p.system.size() + 4 + p.description.size() + 8 + 8 + 4 + 4;
}

Program one_instruction_program() {
  Program p;
  p.system = "s";
  p.queues.resize(1);
  Instruction in;
  in.opcode = Opcode::Read;
  p.queues[0].push_back(in);
  p.buffers.push_back({"b", true, 0, 0, 1, ElementType::F16, 1});
  return p;
}

TEST(ProgramBinaryTest, EveryTruncationIsAnError) {
  const auto bytes = write_program_binary(small_program());
  for (std::size_t n = 0; n < bytes.size(); ++n)
    expect_error_naming([&] { read_program_binary(std::span(bytes).first(n), "cut.lpuprog"); },
                        "cut.lpuprog", {});
}

TEST(ProgramBinaryTest, FlippedBytesGiveAProgramOrAnError) {
  const auto original = write_program_binary(small_program());
  for (std::size_t i = 0; i < original.size(); ++i)
    for (std::uint8_t mask : {0x01, 0x80, 0xff}) {
      auto bytes = original;
      bytes[i] ^= mask;
      try {
        const Program p = read_program_binary(bytes, "flip.lpuprog");
        EXPECT_EQ(write_program_binary(p), bytes) << "byte " << i;
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("flip.lpuprog"), std::string::npos) << e.what();
      }
    }
}

TEST(ProgramBinaryTest, TrailingBytesAreRefused) {
  auto bytes = write_program_binary(small_program());
  bytes.push_back(0);
  expect_error_naming([&] { read_program_binary(bytes, "long.lpuprog"); }, "long.lpuprog",
                      {"1 bytes follow"});
}

TEST(ProgramBinaryTest, NewerVersionIsRefusedSayingWhichIsSupported) {
  auto bytes = write_program_binary(small_program());
  bytes[8] = 4;
  expect_error_naming([&] { read_program_binary(bytes, "v4.lpuprog"); }, "v4.lpuprog",
                      {"version 4 is not supported", "version 3"});
}

TEST(ProgramBinaryTest, OlderVersionAsksToCompileAgain) {
  auto bytes = write_program_binary(small_program());
  bytes[8] = 2;
  expect_error_naming([&] { read_program_binary(bytes, "v2.lpuprog"); }, "v2.lpuprog",
                      {"version 2 predates the instructions' memory order", "compile it again"});
}

TEST(ProgramBinaryTest, WrongMagicIsRefused) {
  auto bytes = write_program_binary(small_program());
  bytes[0] = 'X';
  expect_error_naming([&] { read_program_binary(bytes, "x.bin"); }, "x.bin",
                      {"not a lockstep program"});
}

// Patches the first instruction's record at `field` (its offset in the 52-byte record).
void expect_bad_field(std::size_t field, std::vector<std::uint8_t> value,
                      const std::vector<std::string>& words) {
  const Program p = one_instruction_program();
  auto bytes = write_program_binary(p);
  std::memcpy(bytes.data() + first_instruction_offset(p) + field, value.data(), value.size());
  expect_error_naming([&] { read_program_binary(bytes, "bad.lpuprog"); }, "bad.lpuprog", words);
}

TEST(ProgramBinaryTest, OffsetsOfTheTestMatchTheFormat) {
  const Program p = one_instruction_program();
  auto bytes = write_program_binary(p);
  EXPECT_EQ(bytes[first_instruction_offset(p) + 8], 1);  // repeat
  EXPECT_EQ(bytes[first_instruction_offset(p) + 14], static_cast<int>(Opcode::Read));
}

TEST(ProgramBinaryTest, BadOpcodeIsRefused) {
  expect_bad_field(14, {kOpcodeCount}, {"queue 0 instruction 0", "opcode 31 does not exist"});
}
TEST(ProgramBinaryTest, RepeatZeroIsRefused) {
  expect_bad_field(8, {0, 0, 0, 0}, {"queue 0 instruction 0", "repeat is 0"});
}
TEST(ProgramBinaryTest, StrideZeroIsRefused) {
  expect_bad_field(12, {0, 0}, {"queue 0 instruction 0", "stride is 0"});
}
TEST(ProgramBinaryTest, BadStreamByteIsRefused) {
  expect_bad_field(20, {0x40}, {"output stream byte 0x40"});
  expect_bad_field(17, {0x80}, {"input stream byte 0x80"});
}
TEST(ProgramBinaryTest, ReservedFieldMustBeZero) { expect_bad_field(22, {1}, {"reserved"}); }

TEST(ProgramBinaryTest, BadElementTypeIsRefused) {
  const Program p = one_instruction_program();
  auto bytes = write_program_binary(p);
  // The buffer's record comes before the host interface (88 bytes without RoPE factors) that
  // ends the file: ..., u8 is_input, u8 type, i32 slice, u32 addr, u32 vectors, u32 elements,
  // u8 role, u32 stripe.
  bytes[bytes.size() - 88 - 22] = 4;
  expect_error_naming([&] { read_program_binary(bytes, "type.lpuprog"); }, "type.lpuprog",
                      {"host buffer 0", "element type 4"});
}

TEST(ProgramBinaryTest, HugeCountsAreRefusedBeforeAllocating) {
  const Program p = one_instruction_program();
  auto bytes = write_program_binary(p);
  const std::size_t count_at = first_instruction_offset(p) - 4;
  std::memset(bytes.data() + count_at, 0xff, 4);
  expect_error_naming([&] { read_program_binary(bytes, "huge.lpuprog"); }, "huge.lpuprog",
                      {"instruction count of queue 0 is 4294967295", "remain"});
  std::memset(bytes.data() + count_at - 4, 0xff, 4);
  expect_error_naming([&] { read_program_binary(bytes, "huge.lpuprog"); }, "huge.lpuprog",
                      {"queue count is 4294967295"});
}

// ----- bad assembly

struct BadAsm {
  std::string text;
  int line;  // the line the error must name
  std::vector<std::string> words;
};

const std::vector<BadAsm> kBadAsm = {
    {".format 1\nmem.x9 @0 read -> e0 reach=50\n", 2, {"unknown queue 'mem.x9'"}},
    {"\n\nvxm.0 @0 frob e1\n", 3, {"unknown mnemonic 'frob'"}},
    {"vxm.0 @0 add e1 -> e2 reach=47\n", 1, {"add reads 2 input streams", "1 is"}},
    {"vxm.0 @0 add e1 e2\n", 1, {"writes an output stream"}},
    {"mem.w0 @0 write e1 -> e2\n", 1, {"write writes no output stream"}},
    {"vxm.0 @0 abs e1 -> e2 bogus=1\n", 1, {"no operand 'bogus'"}},
    {"vxm.0 @0 abs e1 -> e2 imm=1 imm=2\n", 1, {"'imm' is given twice"}},
    {"vxm.0 @0 abs e32 -> e2\n", 1, {"stream index 32"}},
    {"vxm.0 @0 abs e1 -> q2\n", 1, {"'q2' is not a stream"}},
    {"vxm.0 @0 abs e1 -> e2 x0/1\n", 1, {"repeat count 0"}},
    {"vxm.0 @0 abs e1 -> e2 x1/0\n", 1, {"stride 0"}},
    {"vxm.0 @0 abs e1 -> e2 addr=-1\n", 1, {"addr '-1' is not a whole number"}},
    {"vxm.0 @0 abs e1 -> e2 width=256\n", 1, {"width 256 is out of range"}},
    {"vxm.0 @0 abs e1 -> e2 fimm=1e99\n", 1, {"not a float32"}},
    {"vxm.0 @0 abs e1 -> e2 fimm=nan:0x3f800000\n", 1, {"not a NaN"}},
    {"vxm.0 @0 abs e1 -> e2 in0=e3\n", 1, {"in0 as its input stream"}},
    {"vxm.0 @0 abs e1 -> e2 out=e3\n", 1, {"written after '->'"}},
    {"vxm.0 @0 abs e1 -> e2 type=i8\n", 1, {"no operand 'type'"}},
    {"mxm.w0.abc @0 iw imm=2 type=i8\n", 1, {"imm is given twice"}},
    {"vxm.0 0 abs e1 -> e2\n", 1, {"@<cycle>"}},
    {".system \"abc\n", 1, {"not closed"}},
    {".system \"a\\qb\"\n", 1, {"unknown escape"}},
    {".system \"ab\\\n", 1, {"not closed"}},
    {".system abc\n", 1, {"one double-quoted string"}},
    {".system \"a\"\n.system \"b\"\n", 2, {".system is given twice"}},
    {".format 2\n", 1, {"format 2 is not supported", "format 1"}},
    {".frob 1\n", 1, {"unknown directive '.frob'"}},
    {".buffer inout \"x\"\n", 1, {".buffer is written"}},
    {".buffer input \"x\" type=f64\n", 1, {"element type 'f64'"}},
    {".buffer input \"x\" slice=vxm.0\n", 1, {"slice 'vxm.0'"}},
    {".memory slice=mem.w0 addr=0 bytes=2\n00\n", 1, {"lacks 1 bytes"}},
    {".memory slice=mem.w0 addr=0 bytes=2\n0g0h\n", 2, {"'0g' is not hex"}},
    {".memory slice=mem.w0 addr=0 bytes=1\n0000\n", 2, {"lacks only 1"}},
    {".memory bytes=1\nvxm.0 @0 abs e1 -> e2\n", 2, {"expected a line of hex"}},
};

TEST(ProgramAsmTest, ErrorsNameTheLine) {
  for (const BadAsm& bad : kBadAsm) {
    SCOPED_TRACE(bad.text);
    expect_error_naming([&] { parse_program_asm(bad.text, floorplan(), "bad.s"); },
                        "bad.s:" + std::to_string(bad.line) + ":", bad.words);
  }
}

}  // namespace
}  // namespace lockstep::lpu
