// Merge rules written as one string, "left right" (GGUF tokenizer.ggml.merges, older
// tokenizer.json files): the separator is the first space after the first character, so a left
// side may itself start with a space, as llama.cpp reads them.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace lockstep::tokenizer {

// The two sides, or nullopt when there is no separating space or a side would be empty.
std::optional<std::pair<std::string, std::string>> split_merge_text(std::string_view text);

}  // namespace lockstep::tokenizer
