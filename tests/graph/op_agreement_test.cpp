// Every op of the step graph on every target, against the reference pass (the oracle checked
// against llama.cpp), in the style of ggml's test-backend-ops: one prefill chunk of a synthetic
// model of each architecture the catalog's tiny shapes cover runs on the reference, the CPU plan
// and the simulated chip, each keeping every graph tensor it computes (Transformer::set_probe,
// PlanOptions::probe, DecodeOptions::probe); every op's output is compared with the
// reference's, tensor by tensor, within a tolerance per (target, op kind).
//
// A new op kind needs a row in the tolerance table, or the test fails naming it; a new
// architecture is a row in kModels; a new target is a column. Not compared: kv_append (its
// result, the cache, is read by attention, which is compared) and argmax (the host's).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "compiler/decode_lowering.h"
#include "cpu/plan.h"
#include "graph/step_graph.h"
#include "lpu/program/host_interface.h"
#include "lpu/sim/simulator.h"
#include "model/catalog.h"
#include "model/model_loader.h"
#include "model/synthetic_model.h"
#include "reference/transformer.h"
#include "support/lpu_chip.h"
#include "support/paths.h"

namespace lockstep::graph {
namespace {

using Tensors = std::map<std::string, std::vector<float>>;  // name -> [rows][width] fp32

constexpr std::int64_t kRows = 5;       // tokens of the chunk, at positions 0 .. 4
constexpr std::int64_t kContext = 96;   // KV positions every target holds

// Largest |target - reference| over the reference tensor's RMS: a relative error that does not
// blow up on elements near zero.
double relative_error(const std::vector<float>& got, const std::vector<float>& want) {
  double rms = 0, worst = 0;
  for (float v : want) rms += double(v) * v;
  rms = std::sqrt(rms / std::max<std::size_t>(1, want.size()));
  for (std::size_t i = 0; i < want.size(); ++i) worst = std::max(worst, double(std::fabs(got[i] - want[i])));
  return worst / std::max(rms, 1e-12);
}

// lpu-mixed: int8 weights except q, the FFN's down projection and the LM head at fp16, so that
// one input reaches the MXM at two precisions (q and k/v) and every matmul path meets both.
enum class Target { Cpu, LpuFp16, LpuInt8, LpuMixed };
constexpr Target kTargets[] = {Target::Cpu, Target::LpuFp16, Target::LpuInt8, Target::LpuMixed};
const char* target_name(Target t) {
  switch (t) {
    case Target::Cpu: return "cpu";
    case Target::LpuFp16: return "lpu-fp16";
    case Target::LpuInt8: return "lpu-int8";
    case Target::LpuMixed: return "lpu-mixed";
  }
  return "?";
}
compiler::PrecisionPolicy lpu_policy(Target t) {
  if (t == Target::LpuFp16) return compiler::WeightPrecision::Fp16;
  if (t == Target::LpuInt8) return compiler::WeightPrecision::Int8;
  return compiler::parse_precision_policy("int8,attn_q=fp16,ffn_down=fp16,output=fp16");
}

// Tolerances, relative to the reference tensor's RMS (relative_error), about twice the largest
// error measured over kModels. Each target runs the whole chunk on its own outputs, so an op's
// error includes what its inputs carry from the ops before it: a wrong op shows as a jump at its
// output. The CPU plan rounds matmul inputs to the kernel's activation format (fp16 rows for
// fp16 weights, as llama.cpp does): <= 3.7e-3 measured. The chip's MXM takes fp16 inputs
// (<= 8.4e-3), or int8 weights (one scale per row) and int8 inputs with a per-row absmax scale,
// where the random weights of synthetic models give up to 0.13 after a matmul and 0.31 after
// SwiGLU, whose products stretch the tails. The embedding is a copy (the chip's table is fp16
// and so are the synthetic model's). A mixed policy is held to int8's tolerances.
double tolerance(Target target, OpKind kind) {
  switch (kind) {
    case OpKind::Embedding: return 0.0;
    case OpKind::RmsNorm:
    case OpKind::HeadNorm:
    case OpKind::BiasAdd:
    case OpKind::Rope:
    case OpKind::Add:
    case OpKind::MatMul:
    case OpKind::Attention:
    case OpKind::SwiGlu:
      if (target == Target::Cpu) return 0.01;
      if (target == Target::LpuFp16) return 0.02;
      return kind == OpKind::SwiGlu ? 0.6 : 0.3;
    case OpKind::KvAppend:
    case OpKind::Argmax: return -1;  // not compared (see the file comment)
  }
  return -1;
}

struct Outputs {
  Tensors reference;
  std::map<Target, Tensors> targets;
};

Outputs run_everywhere(const std::string& shape) {
  const std::string path = lockstep::testing::scratch_dir("op_agreement") + "/" + shape + ".gguf";
  model::write_synthetic_model(model::load_catalog_entry(shape), {}, path);
  std::shared_ptr<const model::Model> m = model::load_model(path);
  const auto& c = m->config;
  std::vector<std::int32_t> tokens;
  for (std::int64_t t = 0; t < kRows; ++t) tokens.push_back(static_cast<std::int32_t>((7 * t + 3) % c.n_vocab));
  Outputs out;

  // The reference: every op's output as it computes it.
  reference::Transformer transformer(m);
  transformer.set_probe([&](const std::string& name, std::span<const float> rows) {
    out.reference[name].assign(rows.begin(), rows.end());
  });
  reference::KvCache cache(c, kContext);
  std::vector<float> logits(static_cast<std::size_t>(kRows * c.n_vocab));
  transformer.forward(tokens, 0, cache, logits, /*all_logits=*/true);

  // The CPU plan, every graph tensor copied out.
  cpu::ThreadTeam team(1);
  cpu::PlanOptions options;
  options.isa = cpu::best_isa();
  options.max_batch = kRows;
  options.n_ctx = kContext;
  options.probe = true;
  cpu::Plan plan = cpu::lower_to_plan(*m, options, team, {});
  std::vector<cpu::PlanRow> rows;
  for (std::int64_t t = 0; t < kRows; ++t) rows.push_back({tokens[static_cast<std::size_t>(t)], 0, t});
  std::vector<float> cpu_logits(logits.size());
  cpu::run_plan(plan, team, rows.data(), kRows, 0, cpu_logits.data());
  Tensors& cpu = out.targets[Target::Cpu];
  for (const auto& [name, probe] : plan.probes) cpu[name] = cpu::read_probe(plan, name, 0, kRows);
  cpu["logits"] = cpu_logits;

  // The simulated chip, under each weight precision policy, every graph tensor kept in MEM.
  for (Target target : {Target::LpuFp16, Target::LpuInt8, Target::LpuMixed}) {
    compiler::DecodeOptions lo{lpu_policy(target), kContext};
    lo.rows = kRows;
    lo.probe = true;
    const compiler::DecodeProgram program(c, m.get(), lockstep::testing::test_system(), lo);
    lpu::Chip chip(lockstep::testing::test_system().chip);
    chip.load_memory(program.program());
    for (const auto& [buffer, bytes] : lpu::fill_inputs(program.program(), tokens, 0)) chip.write_buffer(buffer, bytes);
    chip.run(program.program(), lpu::SimulationMode::Functional);
    Tensors& lpu = out.targets[target];
    for (const std::string& name : program.probed_tensors())
      lpu[name] = program.read_tensor(name, [&](int slice, std::uint32_t addr) { return chip.read_vector(slice, addr); });
  }
  return out;
}

class OpAgreement : public ::testing::TestWithParam<const char*> {};

TEST_P(OpAgreement, EveryOpOnEveryTargetMatchesTheReference) {
  const std::string shape = GetParam();
  const Outputs outputs = run_everywhere(shape);
  const Graph g = build_step_graph(model::load_catalog_entry(shape).config,
                                   {.n_tokens = kRows, .position = 0, .logits_every_row = true}, WeightTypes{});
  std::map<std::string, double> worst;  // "target op_kind" -> largest relative error seen
  int compared = 0;
  for (const Op& op : g.ops) {
    for (Target target : kTargets) {
      const double allowed = tolerance(target, op.kind);
      if (allowed < 0) continue;
      const std::string& tensor = g.tensors[static_cast<std::size_t>(op.outputs[0])].name;
      const Tensors& got = outputs.targets.at(target);
      ASSERT_TRUE(outputs.reference.count(tensor)) << "the reference does not report " << tensor << " (" << op.name << ")";
      ASSERT_TRUE(got.count(tensor)) << target_name(target) << " does not report " << tensor << " (" << op.name << ")";
      const std::vector<float>& want = outputs.reference.at(tensor);
      ASSERT_EQ(got.at(tensor).size(), want.size()) << target_name(target) << " " << tensor;
      const double error = relative_error(got.at(tensor), want);
      const std::string key = fmt::format("{} {}", target_name(target), op_kind_name(op.kind));
      worst[key] = std::max(worst[key], error);
      EXPECT_LE(error, allowed) << target_name(target) << " " << op.name << " (" << tensor << ")";
      ++compared;
    }
  }
  std::printf("[measured] %s: %d op outputs compared; largest error / reference RMS:\n", shape.c_str(), compared);
  for (const auto& [key, error] : worst) std::printf("[measured]   %-22s %.2e\n", key.c_str(), error);
}

INSTANTIATE_TEST_SUITE_P(Architectures, OpAgreement,
                         ::testing::Values("tiny", "tiny-llama3", "tiny-qwen2", "tiny-qwen3", "tiny-mistral"),
                         [](const auto& info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

}  // namespace
}  // namespace lockstep::graph
