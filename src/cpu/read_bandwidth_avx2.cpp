// AVX2 streaming read: sixteen 32-byte loads (one 512-byte block) per iteration into eight
// independent XOR chains.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "cpu/read_bandwidth_kernels.h"

namespace lockstep::cpu::kernels {

std::uint64_t read_stream_avx2(const void* data, std::size_t bytes) {
  const auto* p = static_cast<const __m256i*>(data);
  const std::size_t blocks = bytes / 512;
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0,
          a7 = a0;
  for (std::size_t i = 0; i < blocks; ++i, p += 16) {
    a0 = _mm256_xor_si256(a0, _mm256_xor_si256(_mm256_load_si256(p + 0), _mm256_load_si256(p + 1)));
    a1 = _mm256_xor_si256(a1, _mm256_xor_si256(_mm256_load_si256(p + 2), _mm256_load_si256(p + 3)));
    a2 = _mm256_xor_si256(a2, _mm256_xor_si256(_mm256_load_si256(p + 4), _mm256_load_si256(p + 5)));
    a3 = _mm256_xor_si256(a3, _mm256_xor_si256(_mm256_load_si256(p + 6), _mm256_load_si256(p + 7)));
    a4 = _mm256_xor_si256(a4, _mm256_xor_si256(_mm256_load_si256(p + 8), _mm256_load_si256(p + 9)));
    a5 = _mm256_xor_si256(a5, _mm256_xor_si256(_mm256_load_si256(p + 10), _mm256_load_si256(p + 11)));
    a6 = _mm256_xor_si256(a6, _mm256_xor_si256(_mm256_load_si256(p + 12), _mm256_load_si256(p + 13)));
    a7 = _mm256_xor_si256(a7, _mm256_xor_si256(_mm256_load_si256(p + 14), _mm256_load_si256(p + 15)));
  }
  a0 = _mm256_xor_si256(_mm256_xor_si256(_mm256_xor_si256(a0, a1), _mm256_xor_si256(a2, a3)),
                        _mm256_xor_si256(_mm256_xor_si256(a4, a5), _mm256_xor_si256(a6, a7)));
  alignas(32) std::uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), a0);
  return lanes[0] ^ lanes[1] ^ lanes[2] ^ lanes[3];
}

}  // namespace lockstep::cpu::kernels
