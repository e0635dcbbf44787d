// lockstep info [MODEL]: configuration, tokenizer and the table of tensors.
#include <fmt/core.h>
#include <fmt/ranges.h>
#include <map>

#include "cli/command_registry.h"
#include "cli/model_argument.h"

namespace lockstep::cli {
namespace {

struct InfoArgs {
  std::string model;
  bool summary_only = false;
};

std::string human_bytes(std::uint64_t bytes) {
  if (bytes >= (1ull << 30)) return fmt::format("{:.2f} GiB", bytes / 1073741824.0);
  if (bytes >= (1ull << 20)) return fmt::format("{:.2f} MiB", bytes / 1048576.0);
  if (bytes >= (1ull << 10)) return fmt::format("{:.1f} KiB", bytes / 1024.0);
  return fmt::format("{} B", bytes);
}

void info(const InfoArgs& a) {
  auto m = open_model(a.model, /*quiet=*/true);
  const auto& c = m->config;
  fmt::print("model         {}\n", m->source);
  fmt::print("format        {}\n", m->format);
  if (!c.name.empty()) fmt::print("name          {}\n", c.name);
  fmt::print("architecture  {}\n", c.architecture_name);
  fmt::print("parameters    {:.3f} M\n", c.parameter_count() / 1e6);
  fmt::print("weights       {}\n", human_bytes(m->weight_bytes()));
  fmt::print("n_vocab       {}\n", c.n_vocab);
  fmt::print("n_embd        {}\n", c.n_embd);
  fmt::print("n_layer       {}\n", c.n_layer);
  fmt::print("n_head        {} (kv heads {}, head_dim {})\n", c.n_head, c.n_head_kv, c.head_dim);
  fmt::print("n_ff          {}\n", c.n_ff);
  fmt::print("context       {} tokens (trained)\n", c.n_ctx_train);
  fmt::print("rms_eps       {:g}\n", c.rms_eps);
  fmt::print("rope          theta {:g}, {} pairs{}{}\n", c.rope_theta,
             c.rope_style == model::RopeStyle::AdjacentPairs ? "adjacent" : "half-split",
             c.rope_freq_factors.empty() ? "" : ", llama3 frequency scaling",
             c.rope_linear_scale != 1.0 ? fmt::format(", linear scale {:g}", c.rope_linear_scale) : "");
  fmt::print("features      {}{}{}\n", c.tied_embeddings ? "tied embeddings " : "",
             c.qkv_bias ? "qkv bias " : "", c.qk_norm ? "qk norm" : "");
  for (const auto& [k, v] : m->extra_metadata) fmt::print("{:<13} {}\n", k, v);

  const auto& tok = *m->tokenizer;
  const auto& voc = tok.vocabulary();
  fmt::print("\ntokenizer     {} ({} tokens{}{})\n", tokenizer::vocab_kind_name(tok.kind()), voc.tokens.size(),
             voc.merges.empty() ? "" : fmt::format(", {} merges", voc.merges.size()),
             voc.kind == tokenizer::VocabKind::SentencePiece ? "" : fmt::format(", pre-tokenizer {}", voc.pre_tokenizer));
  auto special = [&](const char* label, std::optional<std::int32_t> id) {
    if (id) fmt::print("{:<13} {} '{}'\n", label, *id, tok.token_text(*id));
  };
  special("bos", voc.bos_id);
  special("eos", voc.eos_id);
  fmt::print("add bos       {}\n", voc.add_bos ? "yes" : "no");
  fmt::print("chat template {}\n", voc.chat_template ? "present" : "none");

  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> by_type;  // count, bytes
  for (const auto& [name, t] : m->tensors) {
    auto& e = by_type[numerics::tensor_type_info(t.type).name];
    e.first += 1;
    e.second += t.data.size();
  }
  fmt::print("\ntensor types ");
  for (const auto& [type, e] : by_type) fmt::print(" {} x{} ({})", type, e.first, human_bytes(e.second));
  fmt::print("\n");
  if (a.summary_only) return;
  fmt::print("\n{:<40} {:<6} {:<20} {:>12}\n", "tensor", "type", "shape", "size");
  for (const auto& [name, t] : m->tensors)
    fmt::print("{:<40} {:<6} {:<20} {:>12}\n", name, numerics::tensor_type_info(t.type).name,
               fmt::format("[{}]", fmt::join(t.shape, ", ")), human_bytes(t.data.size()));
}

void add_info_command(CLI::App& app) {
  auto args = std::make_shared<InfoArgs>();
  auto* cmd = app.add_subcommand("info", "show a model's configuration, tokenizer and tensors");
  add_model_argument(*cmd, args->model);
  cmd->add_flag("--summary", args->summary_only, "leave out the per-tensor table");
  cmd->callback([args] { info(*args); });
}

}  // namespace

LOCKSTEP_COMMAND(50, add_info_command);

}  // namespace lockstep::cli
