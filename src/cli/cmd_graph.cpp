// lockstep graph [MODEL | --model-preset NAME]: the operations of one decode step or prefill
// chunk, with FLOPs and bytes: what a compiler receives, and what bounds any target's speed.
#include <fmt/core.h>
#include <map>

#include "cli/command_registry.h"
#include "cli/model_argument.h"
#include "cli/units.h"
#include "core/error.h"
#include "graph/step_graph.h"
#include "model/catalog.h"

namespace lockstep::cli {
namespace {

struct GraphArgs {
  std::string model;
  std::string preset;
  std::string weights = "f16";
  std::int64_t prefill = 0;
  std::int64_t position = 0;
  bool list_ops = false;
};

void show_graph(const GraphArgs& a) {
  model::ModelConfig config;
  graph::WeightTypes types;
  std::string label;
  if (!a.preset.empty()) {
    if (!a.model.empty()) fail("give MODEL or --model-preset, not both");
    config = model::load_catalog_shape(a.preset);
    auto t = numerics::parse_tensor_type(a.weights);
    if (!t) fail("--weights '{}' is not a tensor type (f32, f16, bf16, q8_0, q4_0, q4_k, q6_k, mxfp4)", a.weights);
    types.default_type = *t;
    label = fmt::format("{} (catalog shape, {} weights)", a.preset, a.weights);
  } else {
    auto m = open_model(a.model, /*quiet=*/true);
    config = m->config;
    for (const auto& [name, t] : m->tensors) types.by_name[name] = t.type;
    label = m->source;
  }
  const graph::StepShape step{a.prefill > 0 ? a.prefill : 1, a.position};
  const auto g = graph::build_step_graph(config, step, types);

  fmt::print("{}: {} at position {}\n", label,
             step.n_tokens == 1 ? std::string("decode of 1 token")
                                : fmt::format("prefill of {} tokens", step.n_tokens),
             step.position);
  std::map<std::string, std::pair<int, std::uint64_t>> by_kind;
  for (const auto& op : g.ops) {
    auto& e = by_kind[graph::op_kind_name(op.kind)];
    e.first += 1;
    e.second += op.flops;
  }
  fmt::print("{} ops:", g.ops.size());
  for (const auto& [kind, e] : by_kind) fmt::print(" {} x{}", kind, e.first);
  fmt::print("\n");
  const double bytes = static_cast<double>(g.weight_bytes() + g.kv_bytes_read());
  fmt::print("compute        {}\n", si(static_cast<double>(g.total_flops()), "FLOP"));
  fmt::print("weights read   {}\n", si(static_cast<double>(g.weight_bytes()), "B"));
  fmt::print("KV cache read  {} (written {})\n", si(static_cast<double>(g.kv_bytes_read()), "B"),
             si(static_cast<double>(g.kv_bytes_written()), "B"));
  fmt::print("intensity      {:.2f} FLOP/byte\n", g.total_flops() / bytes);
  fmt::print("a memory system streaming 100 GB/s would need at least {:.3f} ms per step\n",
             bytes / 100e9 * 1e3);
  if (!a.list_ops) return;
  fmt::print("\n{:<28} {:<10} {:>14}  {}\n", "op", "kind", "flops", "inputs -> outputs");
  for (const auto& op : g.ops) {
    std::string io;
    for (int i : op.inputs) io += g.tensors[i].name + " ";
    io += "->";
    for (int o : op.outputs) io += " " + g.tensors[o].name;
    fmt::print("{:<28} {:<10} {:>14}  {}\n", op.name, graph::op_kind_name(op.kind), op.flops, io);
  }
}

void add_graph_command(CLI::App& app) {
  auto args = std::make_shared<GraphArgs>();
  auto* cmd = app.add_subcommand("graph", "the operations, FLOPs and bytes of one model step");
  add_model_argument(*cmd, args->model);
  cmd->add_option("--model-preset", args->preset, "a catalog shape instead of a model file (see make-model --list)");
  cmd->add_option("--weights", args->weights, "weight type for --model-preset")->capture_default_str();
  cmd->add_option("--prefill", args->prefill, "a prefill chunk of this many tokens (default: decode 1)");
  cmd->add_option("--position", args->position, "tokens already in the KV cache")->capture_default_str();
  cmd->add_flag("--ops", args->list_ops, "list every op");
  cmd->callback([args] { show_graph(*args); });
}

}  // namespace

LOCKSTEP_COMMAND(60, add_graph_command);

}  // namespace lockstep::cli
