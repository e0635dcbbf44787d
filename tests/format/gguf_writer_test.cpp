// GgufWriter: write, read back with GgufFile, and compare. Every metadata type and every tensor
// type round-trips byte-exactly; tensor data is aligned; bad input throws and leaves no file.
#include "format/gguf_writer.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "core/error.h"
#include "format/gguf_file.h"
#include "support/paths.h"

namespace lockstep::model {
namespace {

namespace fs = std::filesystem;
using numerics::TensorType;

std::vector<std::uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<std::uint8_t> random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<std::uint8_t> out(n);
  for (auto& b : out) b = static_cast<std::uint8_t>(rng());
  return out;
}

GgufValue scalar(GgufType type, std::variant<std::uint64_t, std::int64_t, double, bool, std::string> v) {
  GgufValue out;
  out.type = type;
  out.scalar = std::move(v);
  return out;
}

TEST(GgufWriterTest, EveryMetadataTypeRoundTrips) {
  const std::string dir = testing::scratch_dir("gguf_writer_metadata");
  const std::string path = dir + "/meta.gguf";
  GgufWriter w;
  w.add_string("t.string", "héllo\nworld");
  w.add_string("t.empty", "");
  w.add_uint8("t.u8", 250);
  w.add_int8("t.i8", -120);
  w.add_uint16("t.u16", 65000);
  w.add_int16("t.i16", -32000);
  w.add_uint32("t.u32", 4000000000u);
  w.add_int32("t.i32", -2000000000);
  w.add_uint64("t.u64", 0xfedcba9876543210ull);
  w.add_int64("t.i64", -0x123456789abcdefll);
  w.add_float32("t.f32", 1.0e-5f);
  w.add_float64("t.f64", 3.141592653589793);
  w.add_bool("t.true", true);
  w.add_bool("t.false", false);
  w.add_string_array("t.strings", {"a", "", "ccc", "Ġthe"});
  w.add_float32_array("t.floats", {0.0f, -1.5f, 3.0e38f});
  w.add_int32_array("t.ints", {1, -2, 2147483647});
  w.add_string_array("t.empty_array", {});
  GgufValue nested;
  nested.type = GgufType::ARRAY;
  nested.array_type = GgufType::ARRAY;
  for (int i = 0; i < 2; ++i) {
    GgufValue inner;
    inner.type = GgufType::ARRAY;
    inner.array_type = GgufType::UINT16;
    inner.array = {scalar(GgufType::UINT16, std::uint64_t{7}), scalar(GgufType::UINT16, std::uint64_t{65535})};
    nested.array.push_back(inner);
  }
  w.add_value("t.nested", nested);
  w.add_value("t.value_f64", scalar(GgufType::FLOAT64, 2.5));
  w.add_value("t.value_i8", scalar(GgufType::INT8, std::int64_t{-5}));
  w.write(path);

  const GgufFile g = GgufFile::open(path);
  EXPECT_EQ(g.version(), 3u);
  EXPECT_EQ(g.alignment(), 32u);
  EXPECT_EQ(g.get_uint("general.alignment"), 32u);
  EXPECT_EQ(g.find("general.alignment")->type, GgufType::UINT32);
  EXPECT_EQ(g.get_string("t.string"), "héllo\nworld");
  EXPECT_EQ(g.get_string("t.empty"), "");
  EXPECT_EQ(g.get_uint("t.u8"), 250u);
  EXPECT_EQ(std::get<std::int64_t>(g.find("t.i8")->scalar), -120);
  EXPECT_EQ(g.get_uint("t.u16"), 65000u);
  EXPECT_EQ(std::get<std::int64_t>(g.find("t.i16")->scalar), -32000);
  EXPECT_EQ(g.get_uint("t.u32"), 4000000000u);
  EXPECT_EQ(std::get<std::int64_t>(g.find("t.i32")->scalar), -2000000000);
  EXPECT_EQ(g.get_uint("t.u64"), 0xfedcba9876543210ull);
  EXPECT_EQ(std::get<std::int64_t>(g.find("t.i64")->scalar), -0x123456789abcdefll);
  EXPECT_EQ(g.get_float("t.f32"), static_cast<double>(1.0e-5f));
  EXPECT_EQ(g.find("t.f32")->type, GgufType::FLOAT32);
  EXPECT_EQ(g.get_float("t.f64"), 3.141592653589793);
  EXPECT_TRUE(g.get_bool("t.true", false));
  EXPECT_FALSE(g.get_bool("t.false", true));
  EXPECT_EQ(g.get_string_array("t.strings"), (std::vector<std::string>{"a", "", "ccc", "Ġthe"}));
  EXPECT_EQ(g.get_float_array("t.floats"), (std::vector<double>{0.0, -1.5, static_cast<double>(3.0e38f)}));
  EXPECT_EQ(g.find("t.floats")->array_type, GgufType::FLOAT32);
  EXPECT_EQ(g.get_int_array("t.ints"), (std::vector<std::int64_t>{1, -2, 2147483647}));
  EXPECT_EQ(g.find("t.ints")->array_type, GgufType::INT32);
  EXPECT_TRUE(g.get_string_array("t.empty_array").empty());
  const GgufValue* n = g.find("t.nested");
  ASSERT_NE(n, nullptr);
  ASSERT_EQ(n->array.size(), 2u);
  EXPECT_EQ(n->array[1].array_type, GgufType::UINT16);
  EXPECT_EQ(std::get<std::uint64_t>(n->array[1].array[1].scalar), 65535u);
  EXPECT_EQ(g.get_float("t.value_f64"), 2.5);
  EXPECT_EQ(g.find("t.value_f64")->type, GgufType::FLOAT64);
  EXPECT_EQ(std::get<std::int64_t>(g.find("t.value_i8")->scalar), -5);
  EXPECT_EQ(g.find("t.value_i8")->type, GgufType::INT8);
}

// Every tensor type, 1-D to 4-D: data comes back byte-exactly and at aligned offsets.
TEST(GgufWriterTest, EveryTensorTypeRoundTripsAligned) {
  const std::string path = testing::scratch_dir("gguf_writer_tensors") + "/tensors.gguf";
  struct Case {
    std::string name;
    TensorType type;
    std::vector<std::uint64_t> shape;
  };
  const std::vector<Case> cases{
      {"f32", TensorType::F32, {5}},               // 20 bytes: the next tensor needs padding
      {"f16", TensorType::F16, {7, 3}},
      {"bf16", TensorType::BF16, {3, 2, 2}},
      {"q8_0", TensorType::Q8_0, {64, 3}},
      {"q4_0", TensorType::Q4_0, {32, 1, 2, 3}},
      {"q4_k", TensorType::Q4_K, {256, 2}},
      {"q6_k", TensorType::Q6_K, {512, 1}},
  };
  std::vector<std::vector<std::uint8_t>> data;
  GgufWriter w;
  w.add_string("general.architecture", "test");
  for (std::size_t i = 0; i < cases.size(); ++i) {
    std::uint64_t elements = 1;
    for (auto d : cases[i].shape) elements *= d;
    data.push_back(random_bytes(numerics::tensor_bytes(cases[i].type, elements), 100 + i));
  }
  for (std::size_t i = 0; i < cases.size(); ++i) {
    if (i % 2 == 0) {
      w.add_tensor_view(cases[i].name, cases[i].type, cases[i].shape, data[i]);
    } else {  // streamed in small, uneven chunks
      const auto* bytes = &data[i];
      w.add_tensor(cases[i].name, cases[i].type, cases[i].shape,
                   [bytes](const GgufWriter::ChunkSink& emit) {
                     std::size_t pos = 0, step = 1;
                     while (pos < bytes->size()) {
                       const std::size_t n = std::min(step, bytes->size() - pos);
                       emit(std::span<const std::uint8_t>(bytes->data() + pos, n));
                       pos += n;
                       step = step * 3 + 1;
                     }
                   });
    }
  }
  w.write(path);

  const auto file = read_bytes(path);
  EXPECT_EQ(file.size() % 32, 0u);
  const GgufFile g = GgufFile::open(path);
  ASSERT_EQ(g.tensors().size(), cases.size());
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const TensorView* t = g.find_tensor(cases[i].name);
    ASSERT_NE(t, nullptr) << cases[i].name;
    EXPECT_EQ(t->type, cases[i].type);
    EXPECT_EQ(t->shape, cases[i].shape);
    ASSERT_EQ(t->data.size(), data[i].size());
    EXPECT_EQ(std::memcmp(t->data.data(), data[i].data(), data[i].size()), 0) << cases[i].name;
    const auto offset = static_cast<std::uint64_t>(t->data.data() - g.mapping()->bytes().data());
    EXPECT_EQ(offset % 32, 0u) << cases[i].name;
  }
  // Tensor infos keep the order they were added in.
  for (std::size_t i = 0; i < cases.size(); ++i) EXPECT_EQ(g.tensors()[i].name, cases[i].name);
}

// Reading a file and writing what was read gives the same bytes.
TEST(GgufWriterTest, RewriteIsByteIdentical) {
  const std::string dir = testing::scratch_dir("gguf_writer_rewrite");
  const auto payload = random_bytes(numerics::tensor_bytes(TensorType::Q8_0, 64 * 2), 7);
  {
    GgufWriter w;  // keys in sorted order, as GgufFile::metadata() lists them
    w.add_float32_array("a.floats", {1.0f, 2.0f});
    w.add_string("b.name", "x");
    w.add_int32("c.int", -3);
    w.add_uint64("d.big", 1ull << 40);
    w.add_tensor_view("w", TensorType::Q8_0, {64, 2}, payload);
    w.write(dir + "/a.gguf");
  }
  const GgufFile g = GgufFile::open(dir + "/a.gguf");
  GgufWriter w;
  for (const auto& [key, value] : g.metadata())
    if (key != "general.alignment") w.add_value(key, value);
  for (const auto& t : g.tensors()) w.add_tensor_view(t.name, t.type, t.shape, t.data);
  w.write(dir + "/b.gguf");
  EXPECT_EQ(read_bytes(dir + "/a.gguf"), read_bytes(dir + "/b.gguf"));
}

TEST(GgufWriterTest, OtherAlignment) {
  const std::string path = testing::scratch_dir("gguf_writer_align") + "/a64.gguf";
  GgufWriter w(64);
  w.add_tensor_f32("a", {3}, {1, 2, 3});
  w.add_tensor_f32("b", {2}, {4, 5});
  w.write(path);
  const GgufFile g = GgufFile::open(path);
  EXPECT_EQ(g.alignment(), 64u);
  for (const auto& t : g.tensors())
    EXPECT_EQ((t.data.data() - g.mapping()->bytes().data()) % 64, 0);
  float b[2];
  std::memcpy(b, g.find_tensor("b")->data.data(), sizeof b);
  EXPECT_EQ(b[1], 5.0f);
  EXPECT_THROW(GgufWriter(48), Error);
}

TEST(GgufWriterTest, RejectsBadInput) {
  GgufWriter w;
  w.add_uint32("k", 1);
  EXPECT_THROW(w.add_string("k", "again"), Error);
  EXPECT_THROW(w.add_uint32("general.alignment", 64), Error);
  EXPECT_THROW(w.add_value("v", scalar(GgufType::UINT8, std::uint64_t{300})), Error);
  EXPECT_THROW(w.add_value("v", scalar(GgufType::STRING, 1.0)), Error);
  EXPECT_FALSE(w.has_key("v"));  // a rejected value adds nothing
  w.add_tensor_f32("t", {2}, {1, 2});
  EXPECT_THROW(w.add_tensor_f32("t", {2}, {1, 2}), Error);
  EXPECT_THROW(w.add_tensor_owned("zero", TensorType::F32, {0}, {}), Error);
  EXPECT_THROW(w.add_tensor_owned("five", TensorType::F32, {1, 1, 1, 1, 1}, {0, 0, 0, 0}), Error);
  EXPECT_THROW(w.add_tensor_owned("rows", TensorType::Q4_K, {128, 1}, std::vector<std::uint8_t>(72)), Error);
  try {
    w.add_tensor_owned("q", TensorType::Q8_0, {48}, {});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'q'"), std::string::npos) << e.what();
  }
}

TEST(GgufWriterTest, WrongProducerSizeFailsWithoutLeavingAFile) {
  const std::string dir = testing::scratch_dir("gguf_writer_short");
  for (std::size_t delivered : {std::size_t{7}, std::size_t{9}}) {
    const std::string path = dir + "/bad.gguf";
    GgufWriter w;
    const auto bytes = random_bytes(delivered, 1);
    w.add_tensor_owned("t", TensorType::F16, {4}, bytes);  // needs 8 bytes
    try {
      w.write(path);
      FAIL() << "no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("'t'"), std::string::npos) << e.what();
    }
    EXPECT_FALSE(fs::exists(path));
    EXPECT_FALSE(fs::exists(path + ".tmp"));
  }
}

TEST(GgufWriterTest, UnwritablePathThrows) {
  GgufWriter w;
  EXPECT_THROW(w.write("/nonexistent-dir/x/y.gguf"), Error);
}

TEST(GgufWriterTest, QuantizedRowProducerIsThreadCountIndependent) {
  auto fill = [](std::uint64_t row, float* dst) {
    for (int i = 0; i < 256; ++i) dst[i] = std::sin(static_cast<float>(row * 256 + i) * 0.37f);
  };
  std::vector<std::vector<std::uint8_t>> outputs;
  for (unsigned threads : {1u, 2u, 3u}) {
    std::vector<std::uint8_t> out;
    auto producer = quantized_row_producer(TensorType::Q4_K, 256, 37, fill, threads);
    producer([&](std::span<const std::uint8_t> chunk) { out.insert(out.end(), chunk.begin(), chunk.end()); });
    EXPECT_EQ(out.size(), numerics::tensor_bytes(TensorType::Q4_K, 256 * 37));
    outputs.push_back(std::move(out));
  }
  EXPECT_EQ(outputs[0], outputs[1]);
  EXPECT_EQ(outputs[0], outputs[2]);
  // A failure inside a worker reaches the caller as lockstep::Error.
  auto bad = quantized_row_producer(TensorType::Q8_0, 32, 8, [](std::uint64_t, float* dst) {
    for (int i = 0; i < 32; ++i) dst[i] = std::numeric_limits<float>::quiet_NaN();
  }, 2);
  EXPECT_THROW(bad([](std::span<const std::uint8_t>) {}), Error);
}

}  // namespace
}  // namespace lockstep::model
