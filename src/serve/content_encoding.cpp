#include "serve/content_encoding.h"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <vector>

#include "serve/completion_request.h"

namespace lockstep::serve {
namespace {

enum class Coding { Identity, Gzip, Deflate };

std::string lower_trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

ApiError unsupported(std::string_view header) {
  return ApiError(415, "invalid_request_error",
                  fmt::format("Content-Encoding '{}' is not supported: send the body as it is, or "
                              "compressed with gzip or deflate.",
                              header.substr(0, 64)),
                  "", "unsupported_content_encoding");
}

ApiError too_large(std::size_t max_bytes) {
  return ApiError(413, "invalid_request_error",
                  fmt::format("The request body is larger than this server's limit of {} bytes once "
                              "decompressed.",
                              max_bytes),
                  "", "request_too_large");
}

ApiError corrupt(std::string_view coding, std::string_view why) {
  return ApiError(400, "invalid_request_error",
                  fmt::format("The request body is not valid {} data ({}).", coding, why), "",
                  "invalid_content_encoding");
}

std::vector<Coding> parse_codings(std::string_view header) {
  std::vector<Coding> codings;
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = header.find(',', start);
    const std::string name = lower_trimmed(header.substr(start, comma - start));
    if (name == "gzip" || name == "x-gzip") codings.push_back(Coding::Gzip);
    else if (name == "deflate") codings.push_back(Coding::Deflate);
    else if (name != "identity" && !(name.empty() && codings.empty() && comma == std::string_view::npos))
      throw unsupported(header);
    if (codings.size() > 4) throw unsupported(header);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return codings;
}

// zlib's window bits: 16 + 15 reads a gzip header, 15 a zlib header, -15 raw deflate.
std::string inflate_bounded(const std::string& in, int window_bits, std::string_view coding,
                            std::size_t max_bytes) {
  std::string out;
  std::size_t consumed = 0;
  // gzip: one member after another until the input ends (gzip -c a b > ab is one body).
  do {
    z_stream z{};
    if (inflateInit2(&z, window_bits) != Z_OK) throw corrupt(coding, "the decoder could not start");
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data() + consumed));
    z.avail_in = static_cast<uInt>(std::min<std::size_t>(in.size() - consumed, 1u << 30));
    char chunk[16384];
    int status = Z_OK;
    while (status != Z_STREAM_END) {
      z.next_out = reinterpret_cast<Bytef*>(chunk);
      z.avail_out = sizeof chunk;
      status = inflate(&z, Z_NO_FLUSH);
      if (status != Z_OK && status != Z_STREAM_END) {
        const bool truncated = status == Z_BUF_ERROR;
        inflateEnd(&z);
        throw corrupt(coding, truncated ? "it ends early" : "corrupt data");
      }
      const std::size_t produced = sizeof chunk - z.avail_out;
      if (out.size() + produced > max_bytes) {
        inflateEnd(&z);
        throw too_large(max_bytes);
      }
      out.append(chunk, produced);
    }
    consumed = in.size() - z.avail_in;
    inflateEnd(&z);
  } while (window_bits > 16 && consumed < in.size());
  if (consumed < in.size()) throw corrupt(coding, "bytes follow the end of the data");
  return out;
}

std::string decode_one(Coding coding, const std::string& in, std::size_t max_bytes) {
  if (coding == Coding::Gzip) return inflate_bounded(in, 16 + MAX_WBITS, "gzip", max_bytes);
  // "deflate" means the zlib format (RFC 9110), but some clients send raw deflate: a zlib
  // stream starts with a header whose 16-bit value is a multiple of 31 and method 8.
  const bool zlib_header = in.size() >= 2 && (static_cast<unsigned char>(in[0]) & 0x0f) == 8 &&
                           ((static_cast<unsigned char>(in[0]) << 8) | static_cast<unsigned char>(in[1])) % 31 == 0;
  return inflate_bounded(in, zlib_header ? MAX_WBITS : -MAX_WBITS, "deflate", max_bytes);
}

}  // namespace

std::string decode_content(std::string_view content_encoding, std::string body,
                           std::size_t max_bytes) {
  const std::vector<Coding> codings = parse_codings(content_encoding);
  for (auto it = codings.rbegin(); it != codings.rend(); ++it)
    body = decode_one(*it, body, max_bytes);
  if (body.size() > max_bytes) throw too_large(max_bytes);
  return body;
}

}  // namespace lockstep::serve
