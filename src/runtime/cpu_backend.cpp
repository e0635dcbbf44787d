// Placeholder until the backend lands.
#include "runtime/cpu_backend.h"

#include "core/error.h"

namespace lockstep::runtime {

std::unique_ptr<Backend> make_cpu_backend(std::shared_ptr<const model::Model>, std::int64_t,
                                          const CpuBackendOptions&) {
  fail("the CPU backend is not built yet");
}

}  // namespace lockstep::runtime
