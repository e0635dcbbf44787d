// SafetensorsFile: a valid file round-trips (shapes in GGUF order, bytes untouched); every
// malformed header gives lockstep::Error naming the file and the tensor or field.
#include "format/safetensors_file.h"

#include <gtest/gtest.h>

#include "support/expect_error.h"

#include "core/error.h"
#include "model/safetensors_builder.h"
#include "support/paths.h"

namespace lockstep::model {
namespace {

using testing::build_safetensors;
using testing::make_tensor;
using testing::SafetensorsTensor;

constexpr const char* kName = "hostile.safetensors";

SafetensorsFile parse(const std::vector<std::uint8_t>& bytes) {
  return SafetensorsFile::parse(MappedFile::from_static_memory(bytes, kName));
}

std::vector<std::uint8_t> with_header(const std::string& header, std::size_t data_bytes = 64) {
  auto bytes = build_safetensors({}, &header);
  bytes.resize(bytes.size() + data_bytes, 0);
  return bytes;
}

void expect_error(const std::vector<std::uint8_t>& bytes, const std::vector<std::string>& words) {
  testing::expect_error_naming([&] { parse(bytes); }, kName, words);
}

TEST(SafetensorsFileTest, ValidFileRoundTrips) {
  std::vector<SafetensorsTensor> tensors{
      make_tensor("model.a", "F32", {2, 3}, {1, 2, 3, 4, 5, 6}),
      make_tensor("model.b", "F16", {4}, {0.5f, -1, 2, 65504}),
      make_tensor("model.c", "BF16", {3, 1, 2}, {1, 2, 3, 4, 5, 6}),
      {"position_ids", "I64", {2}, std::vector<std::uint8_t>(16, 7)},
  };
  const auto bytes = build_safetensors(tensors);
  const std::string path = lockstep::testing::scratch_dir("safetensors_valid") + "/m.safetensors";
  testing::write_file(path, bytes);
  for (const SafetensorsFile& s : {parse(bytes), SafetensorsFile::open(path)}) {
    ASSERT_EQ(s.tensors().size(), 3u);  // the integer buffer is not a weight
    const auto& a = s.tensors().at("model.a");
    EXPECT_EQ(a.type, numerics::TensorType::F32);
    EXPECT_EQ(a.shape, (std::vector<std::uint64_t>{3, 2}));  // GGUF order
    ASSERT_EQ(a.data.size(), 24u);
    EXPECT_EQ(std::vector<std::uint8_t>(a.data.begin(), a.data.end()), tensors[0].bytes);
    const auto& b = s.tensors().at("model.b");
    EXPECT_EQ(b.type, numerics::TensorType::F16);
    EXPECT_EQ(std::vector<std::uint8_t>(b.data.begin(), b.data.end()), tensors[1].bytes);
    const auto& c = s.tensors().at("model.c");
    EXPECT_EQ(c.type, numerics::TensorType::BF16);
    EXPECT_EQ(c.shape, (std::vector<std::uint64_t>{2, 1, 3}));
    EXPECT_EQ(s.metadata().at("format"), "pt");
  }
}

TEST(SafetensorsFileTest, HeaderLengthPastTheEnd) {
  auto bytes = build_safetensors({make_tensor("w", "F32", {2}, {1, 2})});
  const std::uint64_t huge = bytes.size();  // claims more than is left after the 8 bytes
  std::memcpy(bytes.data(), &huge, 8);
  expect_error(bytes, {"header length"});
  const std::uint64_t absurd = 1ull << 62;
  std::memcpy(bytes.data(), &absurd, 8);
  expect_error(bytes, {"header length"});
  expect_error({1, 2, 3}, {"too short"});
}

TEST(SafetensorsFileTest, BadJson) {
  expect_error(with_header("{\"w\": {\"dtype\": \"F32\""), {"JSON"});
  expect_error(with_header("[1, 2]"), {"object"});
  expect_error(with_header("{\"w\": 3}"), {"'w'"});
  expect_error(with_header("{\"w\": {\"dtype\": 5, \"shape\": [1], \"data_offsets\": [0, 4]}}"),
               {"'w'", "dtype"});
  expect_error(with_header("{\"w\": {\"dtype\": \"F32\", \"shape\": [-1], \"data_offsets\": [0, 4]}}"),
               {"'w'", "shape"});
  expect_error(with_header("{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4]}}"),
               {"'w'", "data_offsets"});
  expect_error(with_header("{\"__metadata__\": [1]}"), {"__metadata__"});
}

TEST(SafetensorsFileTest, OffsetsPastTheEnd) {
  expect_error(with_header("{\"w\": {\"dtype\": \"F32\", \"shape\": [250], \"data_offsets\": [0, 1000]}}"),
               {"'w'", "outside"});
  expect_error(with_header("{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [8, 4]}}"),
               {"'w'"});
}

TEST(SafetensorsFileTest, OverlappingTensors) {
  expect_error(with_header("{\"a\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]},"
                           " \"b\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [8, 24]}}"),
               {"'a'", "'b'", "overlap"});
}

TEST(SafetensorsFileTest, DuplicateNames) {
  expect_error(with_header("{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]},"
                           " \"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]}}"),
               {"'w'", "twice"});
}

TEST(SafetensorsFileTest, SizeShapeMismatch) {
  expect_error(with_header("{\"w\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 12]}}"),
               {"'w'", "span"});
  expect_error(with_header("{\"w\": {\"dtype\": \"BF16\", \"shape\": [2, 3], \"data_offsets\": [0, 24]}}"),
               {"'w'", "span"});
  // 2^63 f32 values would be 2^65 bytes: must not wrap around to match an empty range.
  expect_error(with_header("{\"w\": {\"dtype\": \"F32\", \"shape\": [4294967296, 2147483648], "
                           "\"data_offsets\": [0, 0]}}"),
               {"'w'", "overflow"});
  expect_error(with_header("{\"w\": {\"dtype\": \"F32\", \"shape\": [18446744073709551615, 2], "
                           "\"data_offsets\": [0, 0]}}"),
               {"'w'", "overflow"});
}

TEST(SafetensorsFileTest, UnknownDtype) {
  expect_error(with_header("{\"w\": {\"dtype\": \"F7\", \"shape\": [1], \"data_offsets\": [0, 4]}}"),
               {"'w'", "F7"});
}

}  // namespace
}  // namespace lockstep::model
