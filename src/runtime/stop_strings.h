// Stop strings over streamed text: text is released as soon as it cannot be the start of a
// stop string; when a stop string appears, the text before it is released and the rest
// (the stop string included) is dropped, as OpenAI does.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace lockstep::runtime {

class StopStrings {
 public:
  explicit StopStrings(std::vector<std::string> stops);  // none empty

  // Adds generated text; returns the text that is now safe to send (possibly empty).
  std::string push(std::string_view text);
  // End of generation without a stop string: the text held back.
  std::string finish();
  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stops_;
  std::string held_;   // a suffix that may be the start of a stop string
  bool stopped_ = false;
};

}  // namespace lockstep::runtime
