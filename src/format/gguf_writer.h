// GGUF v3 writer: metadata key/value pairs and tensors, written to one file with
// general.alignment = 32 (or the alignment given to the constructor).
//
// Layout written (the GGUF spec, little-endian):
//   "GGUF", version 3, tensor count (u64), metadata count (u64),
//   metadata in the order added, then general.alignment (u32) last,
//   tensor infos in the order added (name, n_dims, ne[0..n), ggml type, offset),
//   zero padding to the alignment, then each tensor's bytes at its offset, each followed by
//   zero padding to the alignment (the file ends on an aligned size).
//
// Tensor data is streamed: a tensor is given as a producer that is called once, in order,
// during write(), and hands its bytes over in as many chunks as it likes. So a writer of a
// multi-gigabyte model holds one tensor's rows at a time, never a second copy of the weights.
// write() checks that each producer delivers exactly tensor_bytes(type, elements) bytes.
//
// Errors (duplicate key or tensor name, bad shape, a row length that is not a whole number
// of blocks, a producer that delivers the wrong byte count, an I/O failure) throw
// lockstep::Error naming the file or the key/tensor. write() writes to "<path>.tmp" and
// renames it over `path` only when complete, so a failed write never leaves a partial file.
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "format/gguf_file.h"
#include "numerics/tensor_type.h"

namespace lockstep::model {

class GgufWriter {
 public:
  // Receives one chunk of a tensor's bytes (any size, in file order).
  using ChunkSink = std::function<void(std::span<const std::uint8_t>)>;
  // Produces a tensor's bytes by calling `emit` one or more times. Called once, by write().
  using TensorProducer = std::function<void(const ChunkSink& emit)>;
  // Called after each tensor is written: (index, count, name), for progress reports.
  using ProgressCallback = std::function<void(std::size_t, std::size_t, const std::string&)>;

  explicit GgufWriter(std::uint32_t alignment = 32);

  // Scalars.
  void add_string(const std::string& key, const std::string& value);
  void add_uint8(const std::string& key, std::uint8_t value);
  void add_int8(const std::string& key, std::int8_t value);
  void add_uint16(const std::string& key, std::uint16_t value);
  void add_int16(const std::string& key, std::int16_t value);
  void add_uint32(const std::string& key, std::uint32_t value);
  void add_int32(const std::string& key, std::int32_t value);
  void add_uint64(const std::string& key, std::uint64_t value);
  void add_int64(const std::string& key, std::int64_t value);
  void add_float32(const std::string& key, float value);
  void add_float64(const std::string& key, double value);
  void add_bool(const std::string& key, bool value);
  // Arrays.
  void add_string_array(const std::string& key, const std::vector<std::string>& values);
  void add_float32_array(const std::string& key, const std::vector<float>& values);
  void add_int32_array(const std::string& key, const std::vector<std::int32_t>& values);
  // Any value as the reader represents it (all 13 types, nested arrays): lets a tool copy
  // metadata from a GgufFile. Integers/floats are narrowed to `value.type`; a value that does
  // not fit its type throws.
  void add_value(const std::string& key, const GgufValue& value);

  bool has_key(const std::string& key) const;

  // Tensors. `shape` is in GGUF order (shape[0] = row length, innermost), 1 to 4 dimensions,
  // none zero; shape[0] must be a multiple of the type's block size.
  void add_tensor(const std::string& name, numerics::TensorType type,
                  std::vector<std::uint64_t> shape, TensorProducer produce);
  // Bytes owned by the caller, which must keep them alive until write() returns.
  void add_tensor_view(const std::string& name, numerics::TensorType type,
                       std::vector<std::uint64_t> shape, std::span<const std::uint8_t> bytes);
  // Bytes owned by the writer (for small tensors: norms, biases, rope factors).
  void add_tensor_owned(const std::string& name, numerics::TensorType type,
                        std::vector<std::uint64_t> shape, std::vector<std::uint8_t> bytes);
  // A 1-D or n-D f32 tensor from values (owned).
  void add_tensor_f32(const std::string& name, std::vector<std::uint64_t> shape,
                      const std::vector<float>& values);

  std::size_t tensor_count() const { return tensors_.size(); }
  void set_progress(ProgressCallback progress) { progress_ = std::move(progress); }

  // Writes the file. May be called once.
  void write(const std::string& path);

 private:
  struct Tensor {
    std::string name;
    numerics::TensorType type;
    std::vector<std::uint64_t> shape;
    std::uint64_t bytes = 0;   // tensor_bytes(type, elements)
    std::uint64_t offset = 0;  // from the start of the data section, aligned
    TensorProducer produce;
  };

  void begin_key(const std::string& key, GgufType type);
  void encode_value(const std::string& key, const GgufValue& value, int depth);

  std::uint32_t alignment_;
  std::vector<std::uint8_t> metadata_;  // encoded key/value pairs, in order
  std::uint64_t metadata_count_ = 0;
  std::set<std::string> keys_;
  std::vector<Tensor> tensors_;
  std::set<std::string> tensor_names_;
  ProgressCallback progress_;
  bool written_ = false;
};

// Fills row `row` of a matrix: dst is [row_length] fp32. Called concurrently for distinct rows.
using RowFiller = std::function<void(std::uint64_t row, float* dst)>;

// A producer for a matrix of `rows` rows of `row_length` values stored as `type`: rows are made
// in fp32 by `fill`, quantized (numerics::quantize_row) and emitted in order, a chunk of rows
// (about 4 MiB of fp32) at a time, the rows of a chunk shared among `threads` threads (0 = one
// per core). The bytes do not depend on the thread count. An exception from `fill` or from
// quantization is rethrown by the producer.
GgufWriter::TensorProducer quantized_row_producer(numerics::TensorType type,
                                                  std::uint64_t row_length, std::uint64_t rows,
                                                  RowFiller fill, unsigned threads = 1);

}  // namespace lockstep::model
