// libFuzzer target for the safetensors reader: the input is parsed in memory
// (SafetensorsFile::parse via MappedFile::from_static_memory); when that succeeds, every tensor's
// bytes are read once (a view past the end would be an ASan report).
// lockstep::Error is an accepted outcome; any other exception, a crash or a sanitizer report is a
// bug. Seeds: build/asan/corpus/safetensors_fuzz, written by seed_corpus at build time.
#include <cstddef>
#include <cstdint>

#include "core/error.h"
#include "core/mapped_file.h"
#include "format/safetensors_file.h"
#include "numerics/tensor_type.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace lockstep;
  auto file = MappedFile::from_static_memory({data, size}, "fuzz.safetensors");
  try {
    const auto s = model::SafetensorsFile::parse(file);
    std::uint64_t checksum = 0;
    for (const auto& [name, t] : s.tensors()) {
      if (t.data.size() != numerics::tensor_bytes(t.type, t.element_count())) __builtin_trap();
      for (std::uint8_t b : t.data) checksum += b;
    }
    volatile std::uint64_t sink = checksum;
    (void)sink;
  } catch (const Error&) {
  }
  return 0;
}
