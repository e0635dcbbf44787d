// GgufFile against hostile input built byte by byte: every malformed header, count, dimension,
// type, offset, duplicate and truncation gives lockstep::Error naming the file and the field;
// nothing crashes, reads past the end or allocates without bound.
#include "format/gguf_file.h"

#include <gtest/gtest.h>

#include "support/expect_error.h"

#include <cstring>
#include <memory>

#include "core/error.h"
#include "format/gguf_writer.h"
#include "model/model_loader.h"
#include "support/paths.h"

namespace lockstep::model {
namespace {

constexpr const char* kName = "hostile.gguf";

// Little-endian GGUF bytes, written field by field.
class Bytes {
 public:
  Bytes& u8(std::uint8_t v) { return raw(&v, 1); }
  Bytes& u32(std::uint32_t v) { return raw(&v, 4); }
  Bytes& u64(std::uint64_t v) { return raw(&v, 8); }
  Bytes& f32(float v) { return raw(&v, 4); }
  Bytes& str(const std::string& s) {
    u64(s.size());
    return raw(s.data(), s.size());
  }
  Bytes& header(std::uint32_t version, std::uint64_t n_tensors, std::uint64_t n_kv) {
    raw("GGUF", 4);
    return u32(version).u64(n_tensors).u64(n_kv);
  }
  Bytes& kv_u32(const std::string& key, std::uint32_t v) { return str(key).u32(4).u32(v); }
  Bytes& kv_str(const std::string& key, const std::string& v) { return str(key).u32(8).str(v); }
  Bytes& tensor(const std::string& name, const std::vector<std::uint64_t>& dims,
                std::uint32_t type, std::uint64_t offset) {
    str(name).u32(static_cast<std::uint32_t>(dims.size()));
    for (auto d : dims) u64(d);
    return u32(type).u64(offset);
  }
  Bytes& pad(std::size_t alignment = 32) {
    while (data.size() % alignment) data.push_back(0);
    return *this;
  }
  Bytes& zeros(std::size_t n) {
    data.insert(data.end(), n, 0);
    return *this;
  }
  Bytes& raw(const void* p, std::size_t n) {
    const auto* b = static_cast<const std::uint8_t*>(p);
    data.insert(data.end(), b, b + n);
    return *this;
  }
  std::vector<std::uint8_t> data;
};

GgufFile parse(const std::vector<std::uint8_t>& bytes) {
  return GgufFile::parse(MappedFile::from_static_memory(bytes, kName));
}

// Parsing must throw lockstep::Error whose message names the file and contains every `words`.
void expect_error(const std::vector<std::uint8_t>& bytes, const std::vector<std::string>& words) {
  testing::expect_error_naming([&] { parse(bytes); }, kName, words);
}

// One f32 tensor of 4 values, well formed.
Bytes valid_file() {
  Bytes b;
  b.header(3, 1, 2).kv_str("general.architecture", "llama").kv_u32("general.alignment", 32);
  b.tensor("w", {4}, 0, 0).pad().f32(1).f32(2).f32(3).f32(4);
  return b;
}

TEST(GgufFileTest, ValidFileParses) {
  const auto b = valid_file();
  const GgufFile g = parse(b.data);
  EXPECT_EQ(g.version(), 3u);
  ASSERT_EQ(g.tensors().size(), 1u);
  float v[4];
  std::memcpy(v, g.tensors()[0].data.data(), sizeof v);
  EXPECT_EQ(v[3], 4.0f);
  Bytes v2;
  v2.header(2, 0, 1).kv_u32("k", 1);
  EXPECT_EQ(parse(v2.data).version(), 2u);
}

TEST(GgufFileTest, BadMagic) {
  auto b = valid_file();
  b.data[0] = 'X';
  expect_error(b.data, {"GGUF"});
  expect_error({}, {"GGUF"});
  expect_error({'G', 'G'}, {"GGUF"});
}

TEST(GgufFileTest, UnsupportedVersions) {
  for (std::uint32_t version : {1u, 99u, 0u}) {
    Bytes b;
    b.header(version, 0, 0);
    expect_error(b.data, {"version " + std::to_string(version)});
  }
}

// Every proper prefix of a small valid file that holds every metadata type, arrays, and tensors
// of several types throws (up to the end of the last tensor's data; the final padding is
// optional).
TEST(GgufFileTest, TruncatedAtEveryOffset) {
  const std::string path = testing::scratch_dir("gguf_file_truncated") + "/full.gguf";
  GgufWriter w;
  w.add_string("general.architecture", "llama");
  w.add_uint8("a.u8", 1);
  w.add_int16("a.i16", -2);
  w.add_uint32("a.u32", 3);
  w.add_int64("a.i64", -4);
  w.add_float32("a.f32", 0.5f);
  w.add_float64("a.f64", 0.25);
  w.add_bool("a.bool", true);
  w.add_string_array("a.strings", {"x", "yy"});
  w.add_int32_array("a.ints", {1, 2, 3});
  const std::vector<std::uint8_t> f32(16, 1), q8(34, 2);
  w.add_tensor_view("t.f32", numerics::TensorType::F32, {4}, f32);
  w.add_tensor_view("t.q8", numerics::TensorType::Q8_0, {32}, q8);
  w.write(path);
  const auto full = MappedFile::open(path);
  const auto bytes = full->bytes();
  const GgufFile g = GgufFile::parse(full);
  const auto& last = g.tensors().back();
  const std::size_t end = static_cast<std::size_t>(last.data.data() + last.data.size() - bytes.data());
  for (std::size_t n = 0; n < end; ++n) {
    const std::vector<std::uint8_t> prefix(bytes.begin(), bytes.begin() + n);
    try {
      parse(prefix);
      ADD_FAILURE() << "prefix of " << n << " bytes parsed";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(kName), std::string::npos) << e.what();
    }
  }
}

TEST(GgufFileTest, AbsurdCounts) {
  Bytes kv;
  kv.header(3, 0, 1ull << 60).kv_u32("k", 1);
  expect_error(kv.data, {"metadata"});
  Bytes tensors;
  tensors.header(3, 1ull << 62, 0).tensor("w", {4}, 0, 0);
  expect_error(tensors.data, {"tensors"});
  Bytes array;
  array.header(3, 0, 1).str("big").u32(9).u32(4).u64(1ull << 61).u32(0);
  expect_error(array.data, {"'big'", "elements"});
  Bytes strings;
  strings.header(3, 0, 1).str("strs").u32(9).u32(8).u64(1ull << 40).u64(0);
  expect_error(strings.data, {"'strs'"});
}

TEST(GgufFileTest, AbsurdDimensions) {
  struct Case {
    std::vector<std::uint64_t> dims;
    std::string word;
  };
  const std::vector<Case> cases{
      {{}, "dimensions"},                                  // 0 dimensions
      {{4, 1, 1, 1, 1}, "dimensions"},                     // 5 dimensions
      {{0}, "size 0"},
      {{1ull << 50}, "size"},
      {{1ull << 40, 1ull << 40}, "overflow"},              // element count > 2^64
      {{1ull << 30, 1ull << 30}, "past the end"},           // fits 64 bits, not the file
      {{1ull << 40, 1ull << 23}, "overflow"},              // 2^63 values: 2^65 bytes of f32
  };
  for (const auto& c : cases) {
    Bytes b;
    b.header(3, 1, 0).tensor("w", c.dims, 0, 0).pad().zeros(64);
    expect_error(b.data, {"'w'", c.word});
  }
}

TEST(GgufFileTest, OffsetsPastTheEnd) {
  Bytes b;
  b.header(3, 1, 0).tensor("w", {4}, 0, 1024).pad().zeros(16);
  expect_error(b.data, {"'w'", "past the end"});
  Bytes huge;
  huge.header(3, 1, 0).tensor("w", {4}, 0, 0xffffffffffffffe0ull).pad().zeros(16);
  expect_error(huge.data, {"'w'", "past the end"});
  Bytes no_data;  // the data section would start after the end of the file
  no_data.header(3, 1, 0).tensor("w", {4}, 0, 0);
  expect_error(no_data.data, {"tensor data"});
}

TEST(GgufFileTest, UnknownTensorTypeIsNamed) {
  const std::vector<std::pair<std::uint32_t, std::string>> cases{
      {13, "q5_K"}, {3, "q4_1"}, {16, "iq2_xxs"}, {1000, "type 1000"}};
  for (const auto& [type, name] : cases) {
    Bytes b;
    b.header(3, 1, 0).tensor("w", {256}, type, 0).pad().zeros(1024);
    expect_error(b.data, {"'w'", name});
  }
}

TEST(GgufFileTest, RowNotAWholeNumberOfBlocks) {
  Bytes b;
  b.header(3, 1, 0).tensor("w", {48}, 8 /* q8_0 */, 0).pad().zeros(128);
  expect_error(b.data, {"'w'", "blocks"});
}

TEST(GgufFileTest, MisalignedOffset) {
  Bytes b;
  b.header(3, 2, 0).tensor("a", {4}, 0, 0).tensor("b", {4}, 0, 16).pad().zeros(64);
  expect_error(b.data, {"'b'", "aligned"});
}

TEST(GgufFileTest, BadAlignmentValue) {
  for (std::uint32_t alignment : {0u, 3u, 48u, 1u << 21}) {
    Bytes b;
    b.header(3, 0, 1).kv_u32("general.alignment", alignment);
    expect_error(b.data, {"general.alignment"});
  }
  Bytes wrong_type;
  wrong_type.header(3, 0, 1).kv_str("general.alignment", "32");
  expect_error(wrong_type.data, {"general.alignment"});
}

TEST(GgufFileTest, DuplicateTensorNames) {
  Bytes b;
  b.header(3, 2, 0).tensor("w", {4}, 0, 0).tensor("w", {4}, 0, 32).pad().zeros(64);
  expect_error(b.data, {"'w'", "twice"});
}

TEST(GgufFileTest, DuplicateKeys) {
  Bytes b;
  b.header(3, 0, 2).kv_u32("llama.block_count", 1).kv_u32("llama.block_count", 2);
  expect_error(b.data, {"'llama.block_count'", "twice"});
}

TEST(GgufFileTest, StringLengthPastTheEnd) {
  Bytes key;
  key.header(3, 0, 1).u64(1000).raw("abc", 3).zeros(64);
  expect_error(key.data, {"key of metadata entry 0"});
  Bytes value;
  value.header(3, 0, 1).str("general.name").u32(8).u64(1ull << 63).raw("abc", 3);
  expect_error(value.data, {"'general.name'"});
  Bytes tensor_name;
  tensor_name.header(3, 1, 0).u64(500).raw("w", 1).zeros(40);
  expect_error(tensor_name.data, {"name of tensor 0"});
}

TEST(GgufFileTest, BadValueTypes) {
  Bytes unknown;
  unknown.header(3, 0, 1).str("k").u32(13).u32(0);
  expect_error(unknown.data, {"'k'", "type 13"});
  Bytes bad_bool;
  bad_bool.header(3, 0, 1).str("flag").u32(7).u8(2);
  expect_error(bad_bool.data, {"'flag'", "bool"});
  Bytes bad_array;
  bad_array.header(3, 0, 1).str("arr").u32(9).u32(77).u64(1).u32(0);
  expect_error(bad_array.data, {"'arr'", "77"});
  Bytes deep;  // arrays nested five deep
  deep.header(3, 0, 1).str("deep").u32(9);
  for (int i = 0; i < 5; ++i) deep.u32(9).u64(1);
  deep.u32(4).u64(1).u32(0);
  expect_error(deep.data, {"'deep'", "deeper"});
}

// Files that parse but are not models give an Error from the model loader, not a crash.
TEST(GgufFileTest, ParsableButNotAModel) {
  Bytes no_arch;
  no_arch.header(3, 0, 1).kv_u32("k", 1);
  EXPECT_THROW(model_from_gguf(parse(no_arch.data)), Error);
  Bytes wrong_arch;
  wrong_arch.header(3, 0, 1).kv_str("general.architecture", "gpt_neox");
  try {
    model_from_gguf(parse(wrong_arch.data));
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unsupported architecture"), std::string::npos) << e.what();
  }
  Bytes missing;
  missing.header(3, 1, 7)
      .kv_str("general.architecture", "llama")
      .kv_u32("llama.embedding_length", 32)
      .kv_u32("llama.block_count", 1)
      .kv_u32("llama.feed_forward_length", 64)
      .kv_u32("llama.attention.head_count", 2)
      .kv_u32("llama.attention.head_count_kv", 2)
      .kv_u32("llama.context_length", 64)
      .tensor("token_embd.weight", {32, 8}, 0, 0)
      .pad()
      .zeros(32 * 8 * 4);
  try {
    model_from_gguf(parse(missing.data));
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace lockstep::model
