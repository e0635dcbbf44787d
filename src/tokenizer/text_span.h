// A byte range of a string, [begin, begin + size): where a part of a text came from, such as the
// message content inside a rendered chat prompt (chat_template.h).
#pragma once

#include <cstddef>

namespace lockstep::tokenizer {

struct TextSpan {
  std::size_t begin = 0;  // bytes from the start of the text
  std::size_t size = 0;   // bytes

  std::size_t end() const { return begin + size; }
  bool operator==(const TextSpan&) const = default;
};

}  // namespace lockstep::tokenizer
