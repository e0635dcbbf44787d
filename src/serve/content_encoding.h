// Request bodies sent compressed (Content-Encoding, RFC 9110 section 8.4), decoded with a hard
// limit on what comes out: a 1 MB gzip body that inflates to gigabytes (a "gzip bomb") costs at
// most `max_bytes` of memory and stops being read the moment it passes them.
//
// Codings: "identity", "gzip" (also "x-gzip") and "deflate" (zlib format, and raw deflate as
// some clients send it), case-insensitive, or a comma-separated list of them, listed in the
// order they were applied (decoded last to first). At most 4 codings. Concatenated gzip
// members are read as one body, as gzip(1) does.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace lockstep::serve {

// The body as sent, decoded. Throws ApiError: 415 "unsupported_content_encoding" for a coding
// not listed above, 413 "request_too_large" when the decoded body would exceed max_bytes, 400
// "invalid_content_encoding" for data that is not what the header says (corrupt, truncated).
std::string decode_content(std::string_view content_encoding, std::string body,
                           std::size_t max_bytes);

}  // namespace lockstep::serve
