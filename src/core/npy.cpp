#include "core/npy.h"

#include <cstring>
#include <fmt/ranges.h>
#include <fstream>
#include <regex>
#include <sstream>

#include "core/error.h"

namespace lockstep {

void write_npy_f32(const std::string& path, std::span<const float> values,
                   const std::vector<std::uint64_t>& shape) {
  std::uint64_t count = 1;
  for (auto d : shape) count *= d;
  if (count != values.size())
    fail("internal: npy shape holds {} values but {} were given", count, values.size());
  std::string shape_text = shape.size() == 1 ? fmt::format("({},)", shape[0])
                                             : fmt::format("({})", fmt::join(shape, ", "));
  std::string header =
      fmt::format("{{'descr': '<f4', 'fortran_order': False, 'shape': {}, }}", shape_text);
  // magic (6) + version (2) + length (2) + header, padded with spaces to a multiple of 64,
  // ending in a newline.
  const std::size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header.push_back('\n');
  std::ofstream out(path, std::ios::binary);
  if (!out) fail("cannot write '{}'", path);
  out.write("\x93NUMPY\x01\x00", 8);
  const std::uint16_t len = static_cast<std::uint16_t>(header.size());
  out.write(reinterpret_cast<const char*>(&len), 2);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(reinterpret_cast<const char*>(values.data()),
            static_cast<std::streamsize>(values.size() * sizeof(float)));
  if (!out) fail("failed while writing '{}' (disk full?)", path);
}

NpyArray read_npy_f32(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open '{}'", path);
  char magic[8];
  in.read(magic, 8);
  if (!in || std::memcmp(magic, "\x93NUMPY", 6) != 0) fail("{}: not a .npy file", path);
  std::uint32_t header_len = 0;
  if (magic[6] == 1) {
    std::uint16_t l = 0;
    in.read(reinterpret_cast<char*>(&l), 2);
    header_len = l;
  } else {
    in.read(reinterpret_cast<char*>(&header_len), 4);
  }
  if (!in || header_len > 1u << 20) fail("{}: bad .npy header length", path);
  std::string header(header_len, '\0');
  in.read(header.data(), header_len);
  if (header.find("'<f4'") == std::string::npos) fail("{}: not a little-endian float32 array", path);
  if (header.find("'fortran_order': False") == std::string::npos)
    fail("{}: Fortran-order arrays are not supported", path);
  std::smatch m;
  if (!std::regex_search(header, m, std::regex(R"('shape':\s*\(([^)]*)\))")))
    fail("{}: .npy header has no shape", path);
  NpyArray a;
  std::stringstream dims(m[1].str());
  std::string item;
  std::uint64_t count = 1;
  while (std::getline(dims, item, ',')) {
    if (item.find_first_not_of(" ") == std::string::npos) continue;
    a.shape.push_back(std::stoull(item));
    count *= a.shape.back();
  }
  a.values.resize(count);
  in.read(reinterpret_cast<char*>(a.values.data()), static_cast<std::streamsize>(count * 4));
  if (!in) fail("{}: .npy data is truncated", path);
  return a;
}

}  // namespace lockstep
