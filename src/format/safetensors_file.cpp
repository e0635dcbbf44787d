#include "format/safetensors_file.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"

namespace lockstep::model {
namespace {

constexpr std::uint64_t kMaxHeaderBytes = 100u << 20;  // the format's own limit (100 MB)

// Element size and lockstep type of a safetensors dtype; only floating types are weights.
std::optional<numerics::TensorType> weight_type(const std::string& dtype) {
  if (dtype == "F32") return numerics::TensorType::F32;
  if (dtype == "F16") return numerics::TensorType::F16;
  if (dtype == "BF16") return numerics::TensorType::BF16;
  return std::nullopt;
}

bool is_known_dtype(const std::string& dtype) {
  static const std::set<std::string> known{"BOOL", "U8",  "I8",  "I16", "U16", "F16",  "BF16",
                                           "I32",  "U32", "F32", "F64", "I64", "U64",
                                           "F8_E4M3", "F8_E5M2"};
  return known.count(dtype) != 0;
}

}  // namespace

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  return parse(MappedFile::open(path));
}

SafetensorsFile SafetensorsFile::parse(std::shared_ptr<const MappedFile> file) {
  SafetensorsFile s;
  s.file_ = std::move(file);
  const std::string& path = s.file_->name();
  const auto bytes = s.file_->bytes();
  if (bytes.size() < 8) fail("{}: too short to be a safetensors file ({} bytes)", path, bytes.size());
  std::uint64_t header_len;
  std::memcpy(&header_len, bytes.data(), 8);
  if (header_len > kMaxHeaderBytes || header_len > bytes.size() - 8)
    fail("{}: safetensors header length {} exceeds the file ({} bytes) or the 100 MB limit", path,
         header_len, bytes.size());
  const std::string_view header(reinterpret_cast<const char*>(bytes.data() + 8), header_len);
  const std::uint64_t data_start = 8 + header_len;
  const std::uint64_t data_size = bytes.size() - data_start;

  // Duplicate top-level names are rejected (nlohmann would keep the last one silently).
  std::set<std::string> seen;
  std::string duplicate;
  auto on_event = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    if (depth == 1 && event == nlohmann::json::parse_event_t::key) {
      const auto& k = parsed.get_ref<const std::string&>();
      if (!seen.insert(k).second && duplicate.empty()) duplicate = k;
    }
    return true;
  };
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(header, on_event);
  } catch (const nlohmann::json::exception& e) {
    fail("{}: safetensors header is not valid JSON ({})", path, e.what());
  }
  if (!duplicate.empty()) fail("{}: tensor '{}' appears twice in the header", path, duplicate);
  if (!j.is_object()) fail("{}: safetensors header is not a JSON object", path);

  struct Range {
    std::uint64_t begin, end;
    std::string name;
  };
  std::vector<Range> ranges;
  for (const auto& [name, entry] : j.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) fail("{}: __metadata__ is not an object", path);
      for (const auto& [k, v] : entry.items())
        if (v.is_string()) s.metadata_[k] = v.get<std::string>();
      continue;
    }
    if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") ||
        !entry.contains("data_offsets"))
      fail("{}: tensor '{}' needs dtype, shape and data_offsets", path, name);
    const auto& dtype_j = entry["dtype"];
    const auto& shape_j = entry["shape"];
    const auto& offsets_j = entry["data_offsets"];
    if (!dtype_j.is_string()) fail("{}: tensor '{}' dtype is not a string", path, name);
    const std::string dtype = dtype_j.get<std::string>();
    if (!shape_j.is_array() || shape_j.size() > 8)
      fail("{}: tensor '{}' shape must be an array of at most 8 dimensions", path, name);
    if (!offsets_j.is_array() || offsets_j.size() != 2 || !offsets_j[0].is_number_unsigned() ||
        !offsets_j[1].is_number_unsigned())
      fail("{}: tensor '{}' data_offsets must be two non-negative integers", path, name);
    const auto begin = offsets_j[0].get<std::uint64_t>();
    const auto end = offsets_j[1].get<std::uint64_t>();
    if (begin > end || end > data_size)
      fail("{}: tensor '{}' data_offsets [{}, {}] lie outside the {} data bytes: the file is "
           "truncated or corrupt",
           path, name, begin, end, data_size);

    std::vector<std::uint64_t> shape;  // GGUF order: innermost first
    std::uint64_t elements = 1;
    for (auto it = shape_j.rbegin(); it != shape_j.rend(); ++it) {
      if (!it->is_number_unsigned())
        fail("{}: tensor '{}' shape holds a value that is not a non-negative integer", path, name);
      const auto d = it->get<std::uint64_t>();
      if (d != 0 && elements > std::numeric_limits<std::uint64_t>::max() / d)
        fail("{}: tensor '{}' element count overflows 64 bits", path, name);
      elements *= d;
      shape.push_back(d);
    }
    if (shape.empty()) shape.push_back(1);  // a scalar
    ranges.push_back({begin, end, name});

    if (!is_known_dtype(dtype)) fail("{}: tensor '{}' has unknown dtype '{}'", path, name, dtype);
    auto type = weight_type(dtype);
    if (!type) continue;  // integer buffers (e.g. position ids) are not weights: skipped
    // The byte size must fit 64 bits: 2^63 f32 values would wrap to 0 and match an empty range.
    if (elements > std::numeric_limits<std::uint64_t>::max() /
                       numerics::tensor_type_info(*type).block_bytes)
      fail("{}: tensor '{}' byte size overflows 64 bits", path, name);
    const std::uint64_t expected = numerics::tensor_bytes(*type, elements);
    if (end - begin != expected)
      fail("{}: tensor '{}' is {} {} values ({} bytes) but data_offsets span {} bytes", path,
           name, elements, dtype, expected, end - begin);
    TensorView t;
    t.name = name;
    t.type = *type;
    t.shape = std::move(shape);
    t.data = bytes.subspan(data_start + begin, end - begin);
    s.tensors_.emplace(name, std::move(t));
  }

  std::sort(ranges.begin(), ranges.end(),
            [](const Range& a, const Range& b) { return a.begin < b.begin; });
  for (std::size_t i = 1; i < ranges.size(); ++i)
    if (ranges[i].begin < ranges[i - 1].end)
      fail("{}: tensors '{}' and '{}' overlap in the data section", path, ranges[i - 1].name,
           ranges[i].name);
  return s;
}

}  // namespace lockstep::model
