// The host interface a compiled model step records: its roles survive the binary and assembly
// forms, the host fills every input from the Program alone with the values the model's own
// formulas give (RoPE angles bit for bit, llama3 scaling included), and bad requests or
// contradictory interfaces are one sentence.
#include "lpu/program/host_interface.h"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <cmath>
#include <cstring>

#include "compiler/decode_lowering.h"
#include "core/error.h"
#include "compiler/gemm_lowering.h"
#include "lpu/program/program_asm.h"
#include "lpu/program/program_binary.h"
#include "lpu/program/program_check.h"
#include "model/model_loader.h"
#include "support/lpu_chip.h"

namespace lockstep::lpu {
namespace {

struct Compiled {
  model::ModelConfig config;
  Program program;
};

// The embedded model's decode step for the test chip, compiled once (timing only: no weights).
const Compiled& compiled() {
  static const Compiled c = [] {
    const auto m = model::load_model("");
    const compiler::DecodeProgram d(m->config, nullptr, testing::test_system(), {compiler::WeightPrecision::Fp16, 96});
    return Compiled{m->config, d.program()};
  }();
  return c;
}

const HostBuffer& buffer_of(const HostInputs& in, HostRole role) {
  for (const auto& [b, bytes] : in)
    if (b.role == role) return b;
  throw std::logic_error("no such role");
}
const std::vector<std::uint8_t>& bytes_of(const HostInputs& in, HostRole role) {
  for (const auto& [b, bytes] : in)
    if (b.role == role) return bytes;
  throw std::logic_error("no such role");
}
float f32_at(const std::vector<std::uint8_t>& bytes, std::size_t lane) {
  float v;
  std::memcpy(&v, &bytes[4 * lane], 4);
  return v;
}
std::int32_t i32_at(const std::vector<std::uint8_t>& bytes) {
  std::int32_t v;
  std::memcpy(&v, bytes.data(), 4);
  return v;
}

TEST(HostInterfaceTest, TheCompilerRecordsEveryRoleAndTheModelFacts) {
  const Program& p = compiled().program;
  const model::ModelConfig& c = compiled().config;
  EXPECT_EQ(p.host.rows, 1u);
  EXPECT_EQ(p.host.context, 96);
  EXPECT_EQ(p.host.n_vocab, c.n_vocab);
  EXPECT_EQ(p.host.vocab_rows, c.n_vocab);
  EXPECT_EQ(p.host.rope.head_dim, c.head_dim);
  EXPECT_EQ(p.host.rope.theta, c.rope_theta);
  int seen[kHostRoleCount] = {};
  for (const HostBuffer& b : p.buffers) {
    ++seen[static_cast<int>(b.role)];
    EXPECT_EQ(b.name, b.role == HostRole::LogitsStripe ? fmt::format("logits.{}", b.stripe)
                                                       : std::string(host_role_name(b.role)));
  }
  EXPECT_EQ(seen[0], 0);
  for (int r = 1; r < kHostRoleCount - 1; ++r) EXPECT_EQ(seen[r], 1) << host_role_name(HostRole(r));
  EXPECT_EQ(seen[static_cast<int>(HostRole::LogitsStripe)], static_cast<int>(p.host.logits_stripes));
  EXPECT_NO_THROW(check_program(p, testing::test_chip(), testing::test_floorplan()));
}

TEST(HostInterfaceTest, RolesSurviveTheBinaryAndAssemblyForms) {
  Program p = compiled().program;
  p.host.rope.freq_factors = model::llama3_rope_freq_factors(p.host.rope.head_dim, 500000.0, 8, 1, 4, 8192);
  p.host.rope.linear_scale = 1.0 / 3.0;
  EXPECT_EQ(read_program_binary(write_program_binary(p), "rt.bin"), p);
  EXPECT_EQ(parse_program_asm(write_program_asm(p, testing::test_floorplan()), testing::test_floorplan(), "rt.s"),
            p);
  p.host.rope.theta = std::nan("7");  // not finite: written as its bits
  const Program back =
      parse_program_asm(write_program_asm(p, testing::test_floorplan()), testing::test_floorplan(), "rt.s");
  EXPECT_EQ(write_program_binary(back), write_program_binary(p));
}

TEST(HostInterfaceTest, AnOldProgramFileIsOneSentence) {
  std::vector<std::uint8_t> bytes = write_program_binary(compiled().program);
  bytes[8] = 1;  // format version 1: before host interfaces
  try {
    read_program_binary(bytes, "old.bin");
    ADD_FAILURE() << "version 1 was read";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("old.bin: program format version 1 predates host interfaces"),
              std::string::npos) << e.what();
  }
}

TEST(HostInterfaceTest, InputsFollowTheRolesAndTheModelsRopeBitForBit) {
  model::ModelConfig c = compiled().config;
  Program p = compiled().program;
  // A scaled RoPE (llama3 factors, linear positions) to exercise every term of the angle.
  c.rope_freq_factors = model::llama3_rope_freq_factors(c.head_dim, c.rope_theta, 8, 1, 4, 64);
  c.rope_linear_scale = 2.0;
  p.host.rope.freq_factors = c.rope_freq_factors;
  p.host.rope.linear_scale = c.rope_linear_scale;
  const std::int64_t lanes = p.host.lanes;
  for (const std::int64_t pos : {0, 1, 17, 81, 95}) {
    const std::int32_t token = 42;
    const HostInputs in = fill_inputs(p, std::span<const std::int32_t>(&token, 1), pos);
    EXPECT_EQ(i32_at(bytes_of(in, HostRole::TokenId)), 42);
    EXPECT_EQ(i32_at(bytes_of(in, HostRole::Position)), pos);
    EXPECT_EQ(i32_at(bytes_of(in, HostRole::PositionBlock)), pos / lanes);
    for (std::int64_t l = 0; l < lanes; ++l)
      EXPECT_EQ(f32_at(bytes_of(in, HostRole::PositionLane), l), l == pos % lanes ? 1.0f : 0.0f);
    for (std::int64_t i = 0; i < c.head_dim / 2; ++i) {
      const double theta = model::rope_angle(c, pos, i);
      EXPECT_EQ(f32_at(bytes_of(in, HostRole::RopeCos), i), static_cast<float>(std::cos(theta)));
      EXPECT_EQ(f32_at(bytes_of(in, HostRole::RopeSin), i), static_cast<float>(std::sin(theta)));
    }
    const HostBuffer& mask = buffer_of(in, HostRole::AttentionMask);
    for (std::int64_t j = 0; j < std::int64_t{mask.vectors} * lanes; ++j)
      EXPECT_EQ(f32_at(bytes_of(in, HostRole::AttentionMask), j), j <= pos ? 0.0f : -INFINITY);
  }
  // A shard shifts the token to its embedding rows.
  const std::int32_t token = 42;
  EXPECT_EQ(i32_at(bytes_of(fill_inputs(p, HostShard{40, 0}, std::span<const std::int32_t>(&token, 1), 3),
                            HostRole::TokenId)),
            2);
}

TEST(HostInterfaceTest, BadRequestsAndContradictionsAreOneSentence) {
  const Program& p = compiled().program;
  const std::int32_t two[2] = {1, 2};
  const std::int32_t big = static_cast<std::int32_t>(p.host.n_vocab);
  const std::int32_t one = 1;
  auto expect_error = [](auto&& f, const std::string& words) {
    try {
      f();
      ADD_FAILURE() << "no error: " << words;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
    }
  };
  expect_error([&] { fill_inputs(p, two, 0); }, "takes 1 tokens per run, given 2");
  expect_error([&] { fill_inputs(p, std::span<const std::int32_t>(&one, 1), 96); },
               "outside the compiled context of 96");
  expect_error([&] { fill_inputs(p, std::span<const std::int32_t>(&big, 1), 0); }, "outside the vocabulary");
  const compiler::GemmProgram gemm(testing::test_system(), {8, 320, 320, ElementType::F16});
  expect_error([&] { fill_inputs(gemm.program(), std::span<const std::int32_t>(&one, 1), 0); },
               "not a model step");
  Program wide = p;
  wide.host.rope.head_dim = 2 * wide.host.lanes + 2;
  expect_error([&] { fill_inputs(wide, std::span<const std::int32_t>(&one, 1), 0); }, "RoPE parameters");
  Program swapped = p;
  for (HostBuffer& b : swapped.buffers)
    if (b.role == HostRole::LogitsStripe) b.stripe = 0;
  expect_error([&] { read_logits(swapped, [](const HostBuffer&) { return std::vector<std::uint8_t>(); }); },
               "not a new one");
  expect_error([&] { check_program(swapped, testing::test_chip(), testing::test_floorplan()); },
               "not a new one");
}

}  // namespace
}  // namespace lockstep::lpu
