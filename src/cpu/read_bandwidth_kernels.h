// The inner loops of the read-bandwidth measurement (cpu/read_bandwidth.h): stream `bytes` bytes
// from `data` once and fold them into a value the compiler cannot discard. One function per ISA
// level; the AVX2 and AVX-512 ones live in read_bandwidth_avx2.cpp / read_bandwidth_avx512.cpp.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lockstep::cpu::kernels {

// data: 64-byte aligned; bytes: a multiple of 512. Returns the XOR of the data's 64-bit words
// (any value that depends on every byte would do; XOR costs the least).
std::uint64_t read_stream_portable(const void* data, std::size_t bytes);
std::uint64_t read_stream_avx2(const void* data, std::size_t bytes);
std::uint64_t read_stream_avx512(const void* data, std::size_t bytes);

}  // namespace lockstep::cpu::kernels
