// Compressed request bodies: what zlib's own compressor writes decodes back, the limit holds
// however far the data would inflate (and is found without inflating past it), and every kind
// of bad input is a 4xx ApiError.
#include "serve/content_encoding.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <chrono>

#include "serve/completion_request.h"
#include "support/zlib_compress.h"

namespace lockstep::serve {
namespace {

std::string compress(const std::string& data, int window_bits) {
  return testing::zlib_compress(data, window_bits);
}

int status_of(std::string_view coding, const std::string& body, std::size_t limit) {
  try {
    decode_content(coding, body, limit);
    return 200;
  } catch (const ApiError& e) {
    return e.status;
  }
}

const std::string kText = R"({"model":"m","prompt":"In the beginning God created the heaven and the earth."})";

TEST(ContentEncoding, DecodesWhatZlibWrites) {
  EXPECT_EQ(decode_content("gzip", compress(kText, 16 + MAX_WBITS), 1 << 20), kText);
  EXPECT_EQ(decode_content("x-gzip", compress(kText, 16 + MAX_WBITS), 1 << 20), kText);
  EXPECT_EQ(decode_content("deflate", compress(kText, MAX_WBITS), 1 << 20), kText);
  EXPECT_EQ(decode_content("deflate", compress(kText, -MAX_WBITS), 1 << 20), kText);  // raw, as some send
  EXPECT_EQ(decode_content(" GZip ", compress(kText, 16 + MAX_WBITS), 1 << 20), kText);
  EXPECT_EQ(decode_content("identity", kText, 1 << 20), kText);
  EXPECT_EQ(decode_content("", kText, 1 << 20), kText);
  // Applied in order gzip then deflate: decoded deflate first.
  EXPECT_EQ(decode_content("gzip, deflate", compress(compress(kText, 16 + MAX_WBITS), MAX_WBITS), 1 << 20), kText);
  // Two gzip members read as one body (gzip -c a b).
  EXPECT_EQ(decode_content("gzip", compress("abc", 31) + compress("def", 31), 100), "abcdef");
}

TEST(ContentEncoding, TheLimitHoldsAfterDecompression) {
  EXPECT_EQ(decode_content("gzip", compress(std::string(1000, 'a'), 31), 1000).size(), 1000u);
  EXPECT_EQ(status_of("gzip", compress(std::string(1001, 'a'), 31), 1000), 413);
  EXPECT_EQ(status_of("identity", std::string(1001, 'a'), 1000), 413);
  // 256 MiB of zeros in about 256 KiB (16 gzip members of 16 MiB): refused after the first
  // 64 KiB come out, in well under the time inflating all of it would take.
  const std::string member = compress(std::string(std::size_t{16} << 20, '\0'), 31);
  std::string bomb;
  for (int i = 0; i < 16; ++i) bomb += member;
  ASSERT_LT(bomb.size(), std::size_t{1} << 20);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(status_of("gzip", bomb, 64 << 10), 413);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(ContentEncoding, BadInputIsAClientError) {
  const std::string gz = compress(kText, 31);
  EXPECT_EQ(status_of("br", gz, 1 << 20), 415);
  EXPECT_EQ(status_of("gzip, zstd", gz, 1 << 20), 415);
  EXPECT_EQ(status_of("gzip,", gz, 1 << 20), 415);
  EXPECT_EQ(status_of("gzip,gzip,gzip,gzip,gzip", gz, 1 << 20), 415);  // more than 4 codings
  EXPECT_EQ(status_of("gzip", "not gzip at all", 1 << 20), 400);
  EXPECT_EQ(status_of("gzip", gz.substr(0, gz.size() / 2), 1 << 20), 400);  // truncated
  EXPECT_EQ(status_of("gzip", gz + "trailing", 1 << 20), 400);
  EXPECT_EQ(status_of("deflate", "\x78\x9c garbage", 1 << 20), 400);
  EXPECT_EQ(status_of("gzip", "", 1 << 20), 400);
}

}  // namespace
}  // namespace lockstep::serve
