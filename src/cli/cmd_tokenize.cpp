// lockstep tokenize [MODEL] -p TEXT: the token ids of a text and the piece each stands for.
#include <fmt/core.h>
#include <fmt/ranges.h>

#include "cli/command_registry.h"
#include "cli/model_argument.h"

namespace lockstep::cli {
namespace {

struct TokenizeArgs {
  std::string model;
  std::string prompt;
  bool ids_only = false;
  bool no_special = false;
  bool parse_special = false;
};

std::string printable(const std::string& piece) {
  std::string out;
  for (unsigned char ch : piece) {
    if (ch == '\n') out += "\\n";
    else if (ch == '\t') out += "\\t";
    else if (ch == '\'') out += "\\'";
    else if (ch < 0x20) out += fmt::format("\\x{:02x}", ch);
    else out += static_cast<char>(ch);
  }
  return out;
}

void tokenize(const TokenizeArgs& a) {
  auto model = open_model(a.model, /*quiet=*/true);
  const auto& tok = *model->tokenizer;
  auto ids = tok.encode(a.prompt, !a.no_special, a.parse_special);
  if (a.ids_only) {
    fmt::print("{}\n", fmt::join(ids, ","));
    return;
  }
  // The bytes each token stands for (what decoding gives), then the token as the vocabulary
  // spells it when that differs ('Ġthe', '▁the', '<0x0A>').
  for (auto id : ids) {
    const std::string piece = tok.token_to_piece(id, /*render_special=*/true);
    const std::string& text = tok.token_text(id);
    if (text == piece) fmt::print("{:>8} '{}'\n", id, printable(piece));
    else fmt::print("{:>8} '{}'  ({})\n", id, printable(piece), text);
  }
  fmt::print("{} tokens\n", ids.size());
}

void add_tokenize_command(CLI::App& app) {
  auto args = std::make_shared<TokenizeArgs>();
  auto* cmd = app.add_subcommand("tokenize", "show the tokens of a text");
  add_model_argument(*cmd, args->model);
  cmd->add_option("-p,--prompt", args->prompt, "text to tokenize")->required();
  cmd->add_flag("--ids", args->ids_only, "print only the ids, comma-separated");
  cmd->add_flag("--no-bos", args->no_special, "do not add BOS/EOS even if the model asks for them");
  cmd->add_flag("--parse-special", args->parse_special,
                "turn special-token text such as <|im_start|> into its token");
  cmd->callback([args] { tokenize(*args); });
}

}  // namespace

LOCKSTEP_COMMAND(40, add_tokenize_command);

}  // namespace lockstep::cli
