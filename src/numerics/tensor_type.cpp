#include "numerics/tensor_type.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace lockstep::numerics {
namespace {

// Block layouts from ggml's format definitions (ggml-common.h):
//   Q4_0: fp16 d + 16 bytes of 4-bit values        = 18 bytes / 32 values
//   Q8_0: fp16 d + 32 int8                         = 34 bytes / 32 values
//   Q4_K: fp16 d, dmin + 12 bytes scales + 128 qs  = 144 bytes / 256 values
//   Q6_K: 128 ql + 64 qh + 16 int8 scales + fp16 d = 210 bytes / 256 values
//   MXFP4: e8m0 exponent + 16 bytes of 4-bit codes  = 17 bytes / 32 values
constexpr std::array<TensorTypeInfo, 8> kSupported{{
    {TensorType::F32, "f32", 1, 4},
    {TensorType::F16, "f16", 1, 2},
    {TensorType::Q4_0, "q4_0", 32, 18},
    {TensorType::Q8_0, "q8_0", 32, 34},
    {TensorType::Q4_K, "q4_K", 256, 144},
    {TensorType::Q6_K, "q6_K", 256, 210},
    {TensorType::BF16, "bf16", 1, 2},
    {TensorType::MXFP4, "mxfp4", 32, 17},
}};

// Every ggml type id up to 39, for readable "unsupported type" errors.
constexpr std::array<const char*, 40> kGgmlNames{
    "f32",     "f16",    "q4_0",   "q4_1",  "q4_2 (removed)", "q4_3 (removed)", "q5_0",
    "q5_1",    "q8_0",   "q8_1",   "q2_K",  "q3_K",           "q4_K",           "q5_K",
    "q6_K",    "q8_K",   "iq2_xxs", "iq2_xs", "iq3_xxs",      "iq1_s",          "iq4_nl",
    "iq3_s",   "iq2_s",  "iq4_xs", "i8",    "i16",            "i32",            "i64",
    "f64",     "iq1_m",  "bf16",   "q4_0_4_4", "q4_0_4_8",    "q4_0_8_8",       "tq1_0",
    "tq2_0",   "iq4_nl_4_4", "iq4_nl_4_8", "iq4_nl_8_8", "mxfp4"};

}  // namespace

std::optional<TensorTypeInfo> tensor_type_info(std::uint32_t ggml_id) {
  for (const auto& info : kSupported)
    if (static_cast<std::uint32_t>(info.type) == ggml_id) return info;
  return std::nullopt;
}

const TensorTypeInfo& tensor_type_info(TensorType type) {
  for (const auto& info : kSupported)
    if (info.type == type) return info;
  return kSupported[0];  // unreachable: every enumerator is in the table
}

std::string ggml_type_name(std::uint32_t ggml_id) {
  if (ggml_id < kGgmlNames.size()) return kGgmlNames[ggml_id];
  return "type " + std::to_string(ggml_id);
}

std::optional<TensorType> parse_tensor_type(const std::string& name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const auto& info : kSupported) {
    std::string candidate(info.name);
    std::transform(candidate.begin(), candidate.end(), candidate.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (candidate == lower) return info.type;
  }
  return std::nullopt;
}

std::size_t tensor_bytes(TensorType type, std::uint64_t values) {
  const auto& info = tensor_type_info(type);
  return static_cast<std::size_t>(values / info.block_values * info.block_bytes);
}

}  // namespace lockstep::numerics
