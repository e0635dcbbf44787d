#include "format/gguf_writer.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <exception>
#include <thread>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>

#include "core/error.h"
#include "numerics/quantize.h"

namespace lockstep::model {
namespace {

constexpr std::uint32_t kGgufVersion = 3;
constexpr std::uint32_t kMaxDims = 4;  // ggml's GGML_MAX_DIMS
constexpr int kMaxArrayNesting = 4;    // as the reader accepts

template <typename T>
void put(std::vector<std::uint8_t>& out, T value) {
  std::uint8_t bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  out.insert(out.end(), bytes, bytes + sizeof(T));
}

void put_string(std::vector<std::uint8_t>& out, const std::string& s) {
  put<std::uint64_t>(out, s.size());
  out.insert(out.end(), s.begin(), s.end());
}

std::uint64_t align_up(std::uint64_t n, std::uint64_t alignment) {
  return (n + alignment - 1) / alignment * alignment;
}

// An open output file that is closed (and the temporary removed) unless committed.
class OutputFile {
 public:
  explicit OutputFile(const std::string& path) : path_(path), tmp_path_(path + ".tmp") {
    file_ = std::fopen(tmp_path_.c_str(), "wb");
    if (!file_) fail("{}: cannot create the file ({})", tmp_path_, std::strerror(errno));
    buffer_ = std::make_unique<char[]>(kBufferBytes);
    std::setvbuf(file_, buffer_.get(), _IOFBF, kBufferBytes);
  }
  ~OutputFile() {
    if (file_) {
      std::fclose(file_);
      std::remove(tmp_path_.c_str());
    }
  }
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  void write(const void* data, std::size_t n) {
    if (n != 0 && std::fwrite(data, 1, n, file_) != n)
      fail("{}: write failed after {} bytes ({})", path_, position_, std::strerror(errno));
    position_ += n;
  }
  void pad_to(std::uint64_t alignment) {
    static const std::uint8_t zeros[64] = {};
    std::uint64_t pad = align_up(position_, alignment) - position_;
    while (pad > 0) {
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(pad, sizeof zeros));
      write(zeros, n);
      pad -= n;
    }
  }
  std::uint64_t position() const { return position_; }

  void commit() {
    const bool ok = std::fflush(file_) == 0 && std::ferror(file_) == 0;
    const bool closed = std::fclose(file_) == 0;
    file_ = nullptr;
    if (!ok || !closed) {
      std::remove(tmp_path_.c_str());
      fail("{}: writing the file failed ({})", path_, std::strerror(errno));
    }
    std::error_code ec;
    std::filesystem::rename(tmp_path_, path_, ec);
    if (ec) {
      std::remove(tmp_path_.c_str());
      fail("{}: cannot move the finished file into place ({})", path_, ec.message());
    }
  }

 private:
  static constexpr std::size_t kBufferBytes = 4u << 20;
  std::string path_, tmp_path_;
  std::FILE* file_ = nullptr;
  std::unique_ptr<char[]> buffer_;
  std::uint64_t position_ = 0;
};

}  // namespace

GgufWriter::GgufWriter(std::uint32_t alignment) : alignment_(alignment) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0 || alignment > (1u << 20))
    fail("GGUF writer: alignment {} must be a power of two up to 1 MiB", alignment);
}

bool GgufWriter::has_key(const std::string& key) const { return keys_.count(key) != 0; }

void GgufWriter::begin_key(const std::string& key, GgufType type) {
  if (key.empty()) fail("GGUF writer: a metadata key is empty");
  if (key == "general.alignment")
    fail("GGUF writer: metadata 'general.alignment' is written by the writer itself");
  if (!keys_.insert(key).second) fail("GGUF writer: metadata key '{}' is added twice", key);
  put_string(metadata_, key);
  put<std::uint32_t>(metadata_, static_cast<std::uint32_t>(type));
  ++metadata_count_;
}

void GgufWriter::add_string(const std::string& key, const std::string& value) {
  begin_key(key, GgufType::STRING);
  put_string(metadata_, value);
}
void GgufWriter::add_uint8(const std::string& key, std::uint8_t value) {
  begin_key(key, GgufType::UINT8);
  put(metadata_, value);
}
void GgufWriter::add_int8(const std::string& key, std::int8_t value) {
  begin_key(key, GgufType::INT8);
  put(metadata_, value);
}
void GgufWriter::add_uint16(const std::string& key, std::uint16_t value) {
  begin_key(key, GgufType::UINT16);
  put(metadata_, value);
}
void GgufWriter::add_int16(const std::string& key, std::int16_t value) {
  begin_key(key, GgufType::INT16);
  put(metadata_, value);
}
void GgufWriter::add_uint32(const std::string& key, std::uint32_t value) {
  begin_key(key, GgufType::UINT32);
  put(metadata_, value);
}
void GgufWriter::add_int32(const std::string& key, std::int32_t value) {
  begin_key(key, GgufType::INT32);
  put(metadata_, value);
}
void GgufWriter::add_uint64(const std::string& key, std::uint64_t value) {
  begin_key(key, GgufType::UINT64);
  put(metadata_, value);
}
void GgufWriter::add_int64(const std::string& key, std::int64_t value) {
  begin_key(key, GgufType::INT64);
  put(metadata_, value);
}
void GgufWriter::add_float32(const std::string& key, float value) {
  begin_key(key, GgufType::FLOAT32);
  put(metadata_, value);
}
void GgufWriter::add_float64(const std::string& key, double value) {
  begin_key(key, GgufType::FLOAT64);
  put(metadata_, value);
}
void GgufWriter::add_bool(const std::string& key, bool value) {
  begin_key(key, GgufType::BOOL);
  put<std::uint8_t>(metadata_, value ? 1 : 0);
}

void GgufWriter::add_string_array(const std::string& key, const std::vector<std::string>& values) {
  begin_key(key, GgufType::ARRAY);
  put<std::uint32_t>(metadata_, static_cast<std::uint32_t>(GgufType::STRING));
  put<std::uint64_t>(metadata_, values.size());
  for (const auto& v : values) put_string(metadata_, v);
}

void GgufWriter::add_float32_array(const std::string& key, const std::vector<float>& values) {
  begin_key(key, GgufType::ARRAY);
  put<std::uint32_t>(metadata_, static_cast<std::uint32_t>(GgufType::FLOAT32));
  put<std::uint64_t>(metadata_, values.size());
  for (float v : values) put(metadata_, v);
}

void GgufWriter::add_int32_array(const std::string& key, const std::vector<std::int32_t>& values) {
  begin_key(key, GgufType::ARRAY);
  put<std::uint32_t>(metadata_, static_cast<std::uint32_t>(GgufType::INT32));
  put<std::uint64_t>(metadata_, values.size());
  for (std::int32_t v : values) put(metadata_, v);
}

void GgufWriter::add_value(const std::string& key, const GgufValue& value) {
  // Validate and encode into a scratch buffer first so that a bad value adds nothing.
  std::vector<std::uint8_t> saved;
  saved.swap(metadata_);
  try {
    encode_value(key, value, 0);
  } catch (...) {
    metadata_.swap(saved);
    throw;
  }
  std::vector<std::uint8_t> encoded;
  encoded.swap(metadata_);
  metadata_.swap(saved);
  begin_key(key, value.type);
  metadata_.insert(metadata_.end(), encoded.begin(), encoded.end());
}

// Appends the payload of `value` (without key and type) to metadata_.
void GgufWriter::encode_value(const std::string& key, const GgufValue& value, int depth) {
  auto unsigned_value = [&](std::uint64_t max) -> std::uint64_t {
    std::uint64_t u = 0;
    if (const auto* p = std::get_if<std::uint64_t>(&value.scalar)) u = *p;
    else if (const auto* i = std::get_if<std::int64_t>(&value.scalar); i && *i >= 0)
      u = static_cast<std::uint64_t>(*i);
    else fail("GGUF writer: metadata '{}' needs a non-negative integer", key);
    if (u > max) fail("GGUF writer: metadata '{}' value {} does not fit its type", key, u);
    return u;
  };
  auto signed_value = [&](std::int64_t min, std::int64_t max) -> std::int64_t {
    std::int64_t v = 0;
    if (const auto* i = std::get_if<std::int64_t>(&value.scalar)) v = *i;
    else if (const auto* p = std::get_if<std::uint64_t>(&value.scalar);
             p && *p <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      v = static_cast<std::int64_t>(*p);
    else fail("GGUF writer: metadata '{}' needs an integer", key);
    if (v < min || v > max) fail("GGUF writer: metadata '{}' value {} does not fit its type", key, v);
    return v;
  };
  auto float_value = [&]() -> double {
    if (const auto* d = std::get_if<double>(&value.scalar)) return *d;
    fail("GGUF writer: metadata '{}' needs a floating-point value", key);
  };
  switch (value.type) {
    case GgufType::UINT8: put<std::uint8_t>(metadata_, static_cast<std::uint8_t>(unsigned_value(0xff))); break;
    case GgufType::UINT16: put<std::uint16_t>(metadata_, static_cast<std::uint16_t>(unsigned_value(0xffff))); break;
    case GgufType::UINT32: put<std::uint32_t>(metadata_, static_cast<std::uint32_t>(unsigned_value(0xffffffffu))); break;
    case GgufType::UINT64: put<std::uint64_t>(metadata_, unsigned_value(std::numeric_limits<std::uint64_t>::max())); break;
    case GgufType::INT8: put<std::int8_t>(metadata_, static_cast<std::int8_t>(signed_value(-128, 127))); break;
    case GgufType::INT16: put<std::int16_t>(metadata_, static_cast<std::int16_t>(signed_value(-32768, 32767))); break;
    case GgufType::INT32:
      put<std::int32_t>(metadata_, static_cast<std::int32_t>(signed_value(
                                       std::numeric_limits<std::int32_t>::min(),
                                       std::numeric_limits<std::int32_t>::max())));
      break;
    case GgufType::INT64:
      put<std::int64_t>(metadata_, signed_value(std::numeric_limits<std::int64_t>::min(),
                                                std::numeric_limits<std::int64_t>::max()));
      break;
    case GgufType::FLOAT32: put<float>(metadata_, static_cast<float>(float_value())); break;
    case GgufType::FLOAT64: put<double>(metadata_, float_value()); break;
    case GgufType::BOOL: {
      const auto* b = std::get_if<bool>(&value.scalar);
      if (!b) fail("GGUF writer: metadata '{}' needs a bool", key);
      put<std::uint8_t>(metadata_, *b ? 1 : 0);
      break;
    }
    case GgufType::STRING: {
      const auto* s = std::get_if<std::string>(&value.scalar);
      if (!s) fail("GGUF writer: metadata '{}' needs a string", key);
      put_string(metadata_, *s);
      break;
    }
    case GgufType::ARRAY: {
      if (depth >= kMaxArrayNesting)
        fail("GGUF writer: metadata '{}' nests arrays deeper than {}", key, kMaxArrayNesting);
      put<std::uint32_t>(metadata_, static_cast<std::uint32_t>(value.array_type));
      put<std::uint64_t>(metadata_, value.array.size());
      for (const auto& element : value.array) {
        if (element.type != value.array_type)
          fail("GGUF writer: metadata '{}' mixes element types in one array", key);
        encode_value(key, element, depth + 1);
      }
      break;
    }
    default:
      fail("GGUF writer: metadata '{}' has unknown type {}", key,
           static_cast<std::uint32_t>(value.type));
  }
}

void GgufWriter::add_tensor(const std::string& name, numerics::TensorType type,
                            std::vector<std::uint64_t> shape, TensorProducer produce) {
  if (name.empty()) fail("GGUF writer: a tensor name is empty");
  if (shape.empty() || shape.size() > kMaxDims)
    fail("GGUF writer: tensor '{}' has {} dimensions (must be 1 to {})", name, shape.size(),
         kMaxDims);
  std::uint64_t elements = 1;
  for (auto d : shape) {
    if (d == 0 || d > (1ull << 40))
      fail("GGUF writer: tensor '{}' has a dimension of size {}", name, d);
    if (elements > std::numeric_limits<std::uint64_t>::max() / d)
      fail("GGUF writer: tensor '{}' has an element count that overflows 64 bits", name);
    elements *= d;
  }
  const auto& info = numerics::tensor_type_info(type);
  if (shape[0] % info.block_values != 0)
    fail("GGUF writer: tensor '{}' has rows of {} values, not a whole number of {} blocks of {}",
         name, shape[0], info.name, info.block_values);
  if (!tensor_names_.insert(name).second)
    fail("GGUF writer: tensor '{}' is added twice", name);
  Tensor t;
  t.name = name;
  t.type = type;
  t.shape = std::move(shape);
  t.bytes = numerics::tensor_bytes(type, elements);
  t.offset = tensors_.empty()
                 ? 0
                 : align_up(tensors_.back().offset + tensors_.back().bytes, alignment_);
  t.produce = std::move(produce);
  tensors_.push_back(std::move(t));
}

void GgufWriter::add_tensor_view(const std::string& name, numerics::TensorType type,
                                 std::vector<std::uint64_t> shape,
                                 std::span<const std::uint8_t> bytes) {
  add_tensor(name, type, std::move(shape), [bytes](const ChunkSink& emit) { emit(bytes); });
}

void GgufWriter::add_tensor_owned(const std::string& name, numerics::TensorType type,
                                  std::vector<std::uint64_t> shape,
                                  std::vector<std::uint8_t> bytes) {
  auto owned = std::make_shared<std::vector<std::uint8_t>>(std::move(bytes));
  add_tensor(name, type, std::move(shape),
             [owned](const ChunkSink& emit) { emit(std::span<const std::uint8_t>(*owned)); });
}

void GgufWriter::add_tensor_f32(const std::string& name, std::vector<std::uint64_t> shape,
                                const std::vector<float>& values) {
  std::vector<std::uint8_t> bytes(values.size() * sizeof(float));
  if (!values.empty()) std::memcpy(bytes.data(), values.data(), bytes.size());
  add_tensor_owned(name, numerics::TensorType::F32, std::move(shape), std::move(bytes));
}

void GgufWriter::write(const std::string& path) {
  if (written_) fail("{}: GGUF writer: write() was already called", path);
  written_ = true;

  std::vector<std::uint8_t> header;
  header.reserve(metadata_.size() + 64 + tensors_.size() * 96);
  header.insert(header.end(), {'G', 'G', 'U', 'F'});
  put<std::uint32_t>(header, kGgufVersion);
  put<std::uint64_t>(header, tensors_.size());
  put<std::uint64_t>(header, metadata_count_ + 1);
  header.insert(header.end(), metadata_.begin(), metadata_.end());
  put_string(header, "general.alignment");
  put<std::uint32_t>(header, static_cast<std::uint32_t>(GgufType::UINT32));
  put<std::uint32_t>(header, alignment_);
  for (const auto& t : tensors_) {
    put_string(header, t.name);
    put<std::uint32_t>(header, static_cast<std::uint32_t>(t.shape.size()));
    for (auto d : t.shape) put<std::uint64_t>(header, d);
    put<std::uint32_t>(header, static_cast<std::uint32_t>(t.type));
    put<std::uint64_t>(header, t.offset);
  }

  OutputFile out(path);
  out.write(header.data(), header.size());
  out.pad_to(alignment_);
  const std::uint64_t data_start = out.position();
  for (std::size_t i = 0; i < tensors_.size(); ++i) {
    auto& t = tensors_[i];
    const std::uint64_t begin = out.position();
    if (begin - data_start != t.offset)
      fail("{}: GGUF writer: tensor '{}' lands at data offset {}, expected {}", path, t.name,
           begin - data_start, t.offset);
    std::uint64_t delivered = 0;
    ChunkSink sink = [&](std::span<const std::uint8_t> chunk) {
      delivered += chunk.size();
      if (delivered > t.bytes)
        fail("{}: tensor '{}' produced more than its {} bytes", path, t.name, t.bytes);
      out.write(chunk.data(), chunk.size());
    };
    t.produce(sink);
    if (delivered != t.bytes)
      fail("{}: tensor '{}' produced {} bytes, expected {}", path, t.name, delivered, t.bytes);
    t.produce = nullptr;  // release whatever the producer held
    out.pad_to(alignment_);
    if (progress_) progress_(i, tensors_.size(), t.name);
  }
  out.commit();
}

GgufWriter::TensorProducer quantized_row_producer(numerics::TensorType type,
                                                  std::uint64_t row_length, std::uint64_t rows,
                                                  RowFiller fill, unsigned threads) {
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  return [=](const GgufWriter::ChunkSink& emit) {
    const std::uint64_t row_bytes = numerics::tensor_bytes(type, row_length);
    constexpr std::uint64_t kChunkValues = 1u << 20;  // 4 MiB of fp32
    const std::uint64_t chunk_rows = std::clamp<std::uint64_t>(kChunkValues / row_length, 1, rows);
    std::vector<float> values(chunk_rows * row_length);        // [chunk_rows, row_length] fp32
    std::vector<std::uint8_t> bytes(chunk_rows * row_bytes);   // [chunk_rows] encoded rows
    for (std::uint64_t first = 0; first < rows; first += chunk_rows) {
      const std::uint64_t n = std::min(chunk_rows, rows - first);
      auto work = [&](std::uint64_t begin, std::uint64_t end) {
        for (std::uint64_t r = begin; r < end; ++r) {
          float* row = values.data() + r * row_length;
          fill(first + r, row);
          numerics::quantize_row(type, row, bytes.data() + r * row_bytes,
                                 static_cast<std::int64_t>(row_length));
        }
      };
      const unsigned t_count = static_cast<unsigned>(std::min<std::uint64_t>(threads, n));
      if (t_count <= 1) {
        work(0, n);
      } else {
        std::vector<std::exception_ptr> errors(t_count);
        std::vector<std::thread> team;
        for (unsigned t = 0; t < t_count; ++t) {
          team.emplace_back([&, t] {
            try {
              work(n * t / t_count, n * (t + 1) / t_count);
            } catch (...) {
              errors[t] = std::current_exception();
            }
          });
        }
        for (auto& th : team) th.join();
        for (auto& e : errors)
          if (e) std::rethrow_exception(e);
      }
      emit(std::span<const std::uint8_t>(bytes.data(), n * row_bytes));
    }
  };
}

}  // namespace lockstep::model
