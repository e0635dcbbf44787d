// libFuzzer target for compressed request bodies (serve/content_encoding.h): the first byte
// picks the Content-Encoding header, the rest is the body. An ApiError (4xx) is the accepted
// outcome for bad input; a decoded body must stay within the limit. Anything else (another
// exception, a crash, a sanitizer report, memory past the limit) is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "serve/completion_request.h"
#include "serve/content_encoding.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static const char* const codings[] = {"gzip", "deflate", "identity", "gzip, deflate", "deflate, gzip", "br", ""};
  const char* coding = codings[data[0] % (sizeof codings / sizeof *codings)];
  const std::size_t limit = 1 << 16;
  try {
    const std::string out = lockstep::serve::decode_content(
        coding, std::string(reinterpret_cast<const char*>(data + 1), size - 1), limit);
    if (out.size() > limit) std::abort();
  } catch (const lockstep::serve::ApiError& e) {
    if (e.status < 400 || e.status >= 500) std::abort();
  }
  return 0;
}
