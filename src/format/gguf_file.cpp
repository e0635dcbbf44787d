#include "format/gguf_file.h"

#include <cstring>
#include <limits>

#include "core/error.h"

namespace lockstep::model {
namespace {

constexpr std::uint32_t kMaxDims = 4;           // ggml's GGML_MAX_DIMS
constexpr int kMaxArrayNesting = 4;             // arrays of arrays of ... (real files use 1)
constexpr std::uint64_t kMaxStringBytes = 1ull << 30;
// Bound on metadata values in one file (array elements included): a 256k-token vocabulary with
// scores, types and merges is ~1M; the bound keeps a hostile file from costing gigabytes.
constexpr std::uint64_t kMaxMetadataValues = 1ull << 23;

const char* gguf_type_name(GgufType t) {
  switch (t) {
    case GgufType::UINT8: return "uint8";
    case GgufType::INT8: return "int8";
    case GgufType::UINT16: return "uint16";
    case GgufType::INT16: return "int16";
    case GgufType::UINT32: return "uint32";
    case GgufType::INT32: return "int32";
    case GgufType::FLOAT32: return "float32";
    case GgufType::BOOL: return "bool";
    case GgufType::STRING: return "string";
    case GgufType::ARRAY: return "array";
    case GgufType::UINT64: return "uint64";
    case GgufType::INT64: return "int64";
    case GgufType::FLOAT64: return "float64";
  }
  return "unknown";
}

// Sequential, bounds-checked reader over the mapped bytes. Every read names what it reads, so
// that a truncated file says which field ran past the end.
class Cursor {
 public:
  Cursor(std::span<const std::uint8_t> bytes, const std::string& path) : bytes_(bytes), path_(path) {}

  std::uint64_t position() const { return pos_; }
  std::uint64_t remaining() const { return bytes_.size() - pos_; }

  template <typename T>
  T read(const std::string& what) {
    if (remaining() < sizeof(T))
      fail("{}: file ends inside {} (offset {}, file is {} bytes): the file is truncated", path_,
           what, pos_, bytes_.size());
    T value;
    std::memcpy(&value, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return value;
  }

  std::string read_string(const std::string& what) {
    auto length = read<std::uint64_t>(what + " length");
    if (length > remaining() || length > kMaxStringBytes)
      fail("{}: {} claims {} bytes but only {} remain in the file", path_, what, length,
           remaining());
    std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), length);
    pos_ += length;
    return s;
  }

 private:
  std::span<const std::uint8_t> bytes_;
  const std::string& path_;
  std::uint64_t pos_ = 0;
};

// Smallest encoded size of one value of type t, used to bound counts before allocating.
std::uint64_t min_encoded_size(GgufType t) {
  switch (t) {
    case GgufType::UINT8: case GgufType::INT8: case GgufType::BOOL: return 1;
    case GgufType::UINT16: case GgufType::INT16: return 2;
    case GgufType::UINT32: case GgufType::INT32: case GgufType::FLOAT32: return 4;
    case GgufType::UINT64: case GgufType::INT64: case GgufType::FLOAT64: return 8;
    case GgufType::STRING: return 8;
    case GgufType::ARRAY: return 12;
  }
  return 1;
}

bool is_valid_type(std::uint32_t raw) { return raw <= static_cast<std::uint32_t>(GgufType::FLOAT64); }

GgufValue read_value(Cursor& in, GgufType type, const std::string& key, const std::string& path,
                     int depth, std::uint64_t& values_read) {
  if (++values_read > kMaxMetadataValues)
    fail("{}: metadata holds more than {} values (at '{}'): refusing to load", path,
         kMaxMetadataValues, key);
  GgufValue v;
  v.type = type;
  switch (type) {
    case GgufType::UINT8: v.scalar = std::uint64_t{in.read<std::uint8_t>(key)}; break;
    case GgufType::INT8: v.scalar = std::int64_t{in.read<std::int8_t>(key)}; break;
    case GgufType::UINT16: v.scalar = std::uint64_t{in.read<std::uint16_t>(key)}; break;
    case GgufType::INT16: v.scalar = std::int64_t{in.read<std::int16_t>(key)}; break;
    case GgufType::UINT32: v.scalar = std::uint64_t{in.read<std::uint32_t>(key)}; break;
    case GgufType::INT32: v.scalar = std::int64_t{in.read<std::int32_t>(key)}; break;
    case GgufType::UINT64: v.scalar = std::uint64_t{in.read<std::uint64_t>(key)}; break;
    case GgufType::INT64: v.scalar = std::int64_t{in.read<std::int64_t>(key)}; break;
    case GgufType::FLOAT32: v.scalar = double{in.read<float>(key)}; break;
    case GgufType::FLOAT64: v.scalar = in.read<double>(key); break;
    case GgufType::BOOL: {
      auto b = in.read<std::uint8_t>(key);
      if (b > 1) fail("{}: metadata '{}' is a bool with value {} (must be 0 or 1)", path, key, b);
      v.scalar = b == 1;
      break;
    }
    case GgufType::STRING: v.scalar = in.read_string("metadata '" + key + "'"); break;
    case GgufType::ARRAY: {
      if (depth >= kMaxArrayNesting)
        fail("{}: metadata '{}' nests arrays deeper than {}", path, key, kMaxArrayNesting);
      auto raw_type = in.read<std::uint32_t>("array type of '" + key + "'");
      if (!is_valid_type(raw_type))
        fail("{}: metadata '{}' is an array of unknown type {}", path, key, raw_type);
      v.array_type = static_cast<GgufType>(raw_type);
      auto count = in.read<std::uint64_t>("array length of '" + key + "'");
      if (count > in.remaining() / min_encoded_size(v.array_type))
        fail("{}: metadata '{}' claims {} elements, more than the {} bytes left can hold", path,
             key, count, in.remaining());
      v.array.reserve(count);
      for (std::uint64_t i = 0; i < count; ++i)
        v.array.push_back(read_value(in, v.array_type, key, path, depth + 1, values_read));
      break;
    }
  }
  return v;
}

const char* value_type_name(const GgufValue& v) { return gguf_type_name(v.type); }

}  // namespace

GgufFile GgufFile::open(const std::string& path) { return parse(MappedFile::open(path)); }

GgufFile GgufFile::parse(std::shared_ptr<const MappedFile> file) {
  GgufFile g;
  g.file_ = std::move(file);
  const std::string& path = g.file_->name();
  const auto bytes = g.file_->bytes();
  Cursor in(bytes, path);

  if (bytes.size() < 4 || std::memcmp(bytes.data(), "GGUF", 4) != 0)
    fail("{}: not a GGUF file (the first 4 bytes are not 'GGUF')", path);
  in.read<std::uint32_t>("magic");
  g.version_ = in.read<std::uint32_t>("version");
  if (g.version_ != 2 && g.version_ != 3)
    fail("{}: GGUF version {} is not supported (lockstep reads versions 2 and 3)", path,
         g.version_);
  auto tensor_count = in.read<std::uint64_t>("tensor count");
  auto kv_count = in.read<std::uint64_t>("metadata count");
  // Each metadata entry takes at least 8 (key length) + 4 (type) + 1 bytes; each tensor info at
  // least 8 + 4 + 4 + 8. Counts beyond what the file can hold are rejected before allocating.
  if (kv_count > in.remaining() / 13)
    fail("{}: header claims {} metadata entries, more than the file can hold", path, kv_count);

  std::uint64_t values_read = 0;
  for (std::uint64_t i = 0; i < kv_count; ++i) {
    std::string key = in.read_string(fmt::format("key of metadata entry {}", i));
    auto raw_type = in.read<std::uint32_t>("type of metadata '" + key + "'");
    if (!is_valid_type(raw_type))
      fail("{}: metadata '{}' has unknown value type {}", path, key, raw_type);
    GgufValue value = read_value(in, static_cast<GgufType>(raw_type), key, path, 0, values_read);
    if (!g.metadata_.emplace(key, std::move(value)).second)
      fail("{}: metadata key '{}' appears twice", path, key);
  }

  if (auto* a = g.find("general.alignment")) {
    if (a->type != GgufType::UINT32 && a->type != GgufType::UINT64 && a->type != GgufType::INT32)
      fail("{}: general.alignment must be an integer", path);
    std::uint64_t alignment = a->type == GgufType::INT32
                                  ? static_cast<std::uint64_t>(std::get<std::int64_t>(a->scalar))
                                  : std::get<std::uint64_t>(a->scalar);
    if (alignment == 0 || (alignment & (alignment - 1)) != 0 || alignment > (1u << 20))
      fail("{}: general.alignment is {} (must be a power of two up to 1 MiB)", path, alignment);
    g.alignment_ = alignment;
  }

  if (tensor_count > in.remaining() / 24)
    fail("{}: header claims {} tensors, more than the file can hold", path, tensor_count);
  struct RawTensor {
    std::uint64_t offset;
  };
  std::vector<RawTensor> raw;
  raw.reserve(tensor_count);
  g.tensors_.reserve(tensor_count);
  for (std::uint64_t i = 0; i < tensor_count; ++i) {
    TensorView t;
    t.name = in.read_string(fmt::format("name of tensor {}", i));
    auto n_dims = in.read<std::uint32_t>("dimension count of tensor '" + t.name + "'");
    if (n_dims == 0 || n_dims > kMaxDims)
      fail("{}: tensor '{}' has {} dimensions (must be 1 to {})", path, t.name, n_dims, kMaxDims);
    std::uint64_t elements = 1;
    for (std::uint32_t d = 0; d < n_dims; ++d) {
      auto dim = in.read<std::uint64_t>("shape of tensor '" + t.name + "'");
      if (dim == 0 || dim > (1ull << 40))
        fail("{}: tensor '{}' has dimension {} of size {}", path, t.name, d, dim);
      if (elements > std::numeric_limits<std::uint64_t>::max() / dim)
        fail("{}: tensor '{}' has an element count that overflows 64 bits", path, t.name);
      elements *= dim;
      t.shape.push_back(dim);
    }
    auto raw_type = in.read<std::uint32_t>("type of tensor '" + t.name + "'");
    auto info = numerics::tensor_type_info(raw_type);
    if (!info)
      fail("{}: tensor '{}' has type {}, which lockstep does not support (supported: f32, f16, "
           "bf16, q8_0, q4_0, q4_K, q6_K)",
           path, t.name, numerics::ggml_type_name(raw_type));
    t.type = info->type;
    if (t.shape[0] % info->block_values != 0)
      fail("{}: tensor '{}' has rows of {} values, not a whole number of {} blocks of {}", path,
           t.name, t.shape[0], info->name, info->block_values);
    // The byte size must fit 64 bits too: 2^63 f32 values would wrap to a 0-byte view.
    if (elements / info->block_values >
        std::numeric_limits<std::uint64_t>::max() / info->block_bytes)
      fail("{}: tensor '{}' has a byte size that overflows 64 bits", path, t.name);
    auto offset = in.read<std::uint64_t>("data offset of tensor '" + t.name + "'");
    if (offset % g.alignment_ != 0)
      fail("{}: tensor '{}' data offset {} is not aligned to {} bytes", path, t.name, offset,
           g.alignment_);
    if (!g.tensor_index_.emplace(t.name, g.tensors_.size()).second)
      fail("{}: tensor name '{}' appears twice", path, t.name);
    raw.push_back({offset});
    g.tensors_.push_back(std::move(t));
  }

  std::uint64_t data_start = (in.position() + g.alignment_ - 1) / g.alignment_ * g.alignment_;
  if (data_start > bytes.size() && tensor_count > 0)
    fail("{}: file ends before its tensor data begins (offset {})", path, data_start);
  const std::uint64_t data_size = data_start <= bytes.size() ? bytes.size() - data_start : 0;
  for (std::size_t i = 0; i < g.tensors_.size(); ++i) {
    auto& t = g.tensors_[i];
    const std::uint64_t nbytes = numerics::tensor_bytes(t.type, t.element_count());
    if (raw[i].offset > data_size || nbytes > data_size - raw[i].offset)
      fail("{}: tensor '{}' ({} bytes at data offset {}) extends past the end of the file "
           "(data section is {} bytes): the file is truncated or corrupt",
           path, t.name, nbytes, raw[i].offset, data_size);
    t.data = bytes.subspan(data_start + raw[i].offset, nbytes);
  }
  return g;
}

const GgufValue* GgufFile::find(const std::string& key) const {
  auto it = metadata_.find(key);
  return it == metadata_.end() ? nullptr : &it->second;
}

const TensorView* GgufFile::find_tensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

namespace {

std::uint64_t as_uint(const GgufValue& v, const std::string& key, const std::string& path) {
  if (auto* u = std::get_if<std::uint64_t>(&v.scalar); u && v.type != GgufType::ARRAY) return *u;
  if (auto* i = std::get_if<std::int64_t>(&v.scalar); i && v.type != GgufType::ARRAY) {
    if (*i < 0) fail("{}: metadata '{}' is {} (must not be negative)", path, key, *i);
    return static_cast<std::uint64_t>(*i);
  }
  fail("{}: metadata '{}' is a {}, expected an integer", path, key, value_type_name(v));
}

double as_float(const GgufValue& v, const std::string& key, const std::string& path) {
  if (v.type == GgufType::ARRAY) fail("{}: metadata '{}' is an array, expected a number", path, key);
  if (auto* d = std::get_if<double>(&v.scalar)) return *d;
  if (auto* u = std::get_if<std::uint64_t>(&v.scalar)) return static_cast<double>(*u);
  if (auto* i = std::get_if<std::int64_t>(&v.scalar)) return static_cast<double>(*i);
  fail("{}: metadata '{}' is a {}, expected a number", path, key, value_type_name(v));
}

}  // namespace

std::string GgufFile::get_string(const std::string& key) const {
  const auto* v = find(key);
  if (!v) fail("{}: required metadata '{}' is missing", path(), key);
  if (v->type != GgufType::STRING)
    fail("{}: metadata '{}' is a {}, expected a string", path(), key, value_type_name(*v));
  return std::get<std::string>(v->scalar);
}

std::string GgufFile::get_string(const std::string& key, const std::string& fallback) const {
  return has(key) ? get_string(key) : fallback;
}

std::uint64_t GgufFile::get_uint(const std::string& key) const {
  const auto* v = find(key);
  if (!v) fail("{}: required metadata '{}' is missing", path(), key);
  return as_uint(*v, key, path());
}

std::uint64_t GgufFile::get_uint(const std::string& key, std::uint64_t fallback) const {
  return has(key) ? get_uint(key) : fallback;
}

double GgufFile::get_float(const std::string& key) const {
  const auto* v = find(key);
  if (!v) fail("{}: required metadata '{}' is missing", path(), key);
  return as_float(*v, key, path());
}

double GgufFile::get_float(const std::string& key, double fallback) const {
  return has(key) ? get_float(key) : fallback;
}

bool GgufFile::get_bool(const std::string& key, bool fallback) const {
  const auto* v = find(key);
  if (!v) return fallback;
  if (v->type != GgufType::BOOL)
    fail("{}: metadata '{}' is a {}, expected a bool", path(), key, value_type_name(*v));
  return std::get<bool>(v->scalar);
}

std::vector<std::string> GgufFile::get_string_array(const std::string& key) const {
  const auto* v = find(key);
  if (!v) fail("{}: required metadata '{}' is missing", path(), key);
  if (v->type != GgufType::ARRAY || v->array_type != GgufType::STRING)
    fail("{}: metadata '{}' must be an array of strings", path(), key);
  std::vector<std::string> out;
  out.reserve(v->array.size());
  for (const auto& e : v->array) out.push_back(std::get<std::string>(e.scalar));
  return out;
}

std::vector<double> GgufFile::get_float_array(const std::string& key) const {
  const auto* v = find(key);
  if (!v) fail("{}: required metadata '{}' is missing", path(), key);
  if (v->type != GgufType::ARRAY) fail("{}: metadata '{}' must be an array of numbers", path(), key);
  std::vector<double> out;
  out.reserve(v->array.size());
  for (const auto& e : v->array) out.push_back(as_float(e, key, path()));
  return out;
}

std::vector<std::int64_t> GgufFile::get_int_array(const std::string& key) const {
  const auto* v = find(key);
  if (!v) fail("{}: required metadata '{}' is missing", path(), key);
  if (v->type != GgufType::ARRAY)
    fail("{}: metadata '{}' must be an array of integers", path(), key);
  std::vector<std::int64_t> out;
  out.reserve(v->array.size());
  for (const auto& e : v->array) {
    if (auto* i = std::get_if<std::int64_t>(&e.scalar)) out.push_back(*i);
    else if (auto* u = std::get_if<std::uint64_t>(&e.scalar)) out.push_back(static_cast<std::int64_t>(*u));
    else fail("{}: metadata '{}' must be an array of integers", path(), key);
  }
  return out;
}

}  // namespace lockstep::model
