#include "tokenizer/merge_text.h"

namespace lockstep::tokenizer {

std::optional<std::pair<std::string, std::string>> split_merge_text(std::string_view text) {
  const std::size_t space = text.find(' ', 1);
  if (space == std::string_view::npos || space + 1 >= text.size()) return std::nullopt;
  return std::make_pair(std::string(text.substr(0, space)), std::string(text.substr(space + 1)));
}

}  // namespace lockstep::tokenizer
