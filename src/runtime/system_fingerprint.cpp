#include "runtime/system_fingerprint.h"

#include <fmt/format.h>

#include <algorithm>
#include <span>

#include "core/build_info.h"

namespace lockstep::runtime {
namespace {

class Fnv1a {
 public:
  void add(std::span<const std::uint8_t> bytes) {
    for (const std::uint8_t b : bytes) hash_ = (hash_ ^ b) * 0x100000001b3ull;
  }
  void add(std::string_view s) { add(std::span(reinterpret_cast<const std::uint8_t*>(s.data()), s.size())); }
  void add(std::uint64_t v) { add(std::span(reinterpret_cast<const std::uint8_t*>(&v), sizeof v)); }
  std::uint64_t value() const { return hash_; }

 private:
  std::uint64_t hash_ = 0xcbf29ce484222325ull;
};

}  // namespace

std::uint64_t model_digest(const model::Model& model) {
  Fnv1a h;
  for (const auto& [name, tensor] : model.tensors) {  // std::map: in name order
    h.add(name);
    h.add(static_cast<std::uint64_t>(tensor.type));
    for (const std::uint64_t d : tensor.shape) h.add(d);
    const std::size_t edge = std::min<std::size_t>(256, tensor.data.size());
    h.add(tensor.data.first(edge));
    h.add(tensor.data.last(edge));
  }
  return h.value();
}

std::string system_fingerprint(const model::Model& model, std::string_view target) {
  return fmt::format("lockstep-{}-{}-{:016x}", core::build_version(), target, model_digest(model));
}

}  // namespace lockstep::runtime
