// 320-byte vectors of fp32 lanes for LPU tests: build one, read a lane.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

namespace lockstep::testing {

// [bytes / 4] fp32 lanes: lane l holds base + step * l.
inline std::vector<std::uint8_t> f32_vector(float base, float step, int bytes = 320) {
  std::vector<std::uint8_t> v(static_cast<std::size_t>(bytes));
  for (int l = 0; l < bytes / 4; ++l) {
    const float x = base + step * static_cast<float>(l);
    std::memcpy(v.data() + 4 * l, &x, 4);
  }
  return v;
}

inline float f32_lane(const std::vector<std::uint8_t>& v, int lane) {
  float x;
  std::memcpy(&x, v.data() + 4 * lane, 4);
  return x;
}

}  // namespace lockstep::testing
