// Errors: one exception type carrying a one-sentence, user-facing message with its context
// (file, tensor, field). Parsers and loaders throw lockstep::Error for every kind of bad input;
// the CLI catches it at the top, prints the sentence and exits non-zero. Any other exception
// escaping a parser (std::out_of_range, std::bad_alloc, ...) is a bug, and the fuzzers treat it so.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace lockstep {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// A program or its data does not fit the memory it was compiled for (a caller may retry with a
// different split).
class DoesNotFit : public Error {
 public:
  using Error::Error;
};

// Throws lockstep::Error with a fmt-formatted message.
template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace lockstep
