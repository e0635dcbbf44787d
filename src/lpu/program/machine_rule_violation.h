// The error a program gets when it breaks a rule of the machine (a stream read that finds no
// vector, two writes on one diagonal, a bank used twice in a cycle, a queue out of order, an MXM
// step before its input is ready, ...). The message is one sentence naming the rule, the queue,
// the instruction index, the iteration and the cycle.
#pragma once

#include <string>

#include "core/error.h"

namespace lockstep::lpu {

class MachineRuleViolation : public Error {
 public:
  explicit MachineRuleViolation(const std::string& message) : Error(message) {}
};

// Throws MachineRuleViolation with a fmt-formatted message.
template <typename... Args>
[[noreturn]] void violation(fmt::format_string<Args...> format, Args&&... args) {
  throw MachineRuleViolation(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace lockstep::lpu
