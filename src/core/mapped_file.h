// A read-only view of a whole file, memory-mapped (zero copy), or of bytes that are already in
// memory (the embedded model). Model loaders keep tensor views into it, so it must outlive them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace lockstep {

class MappedFile {
 public:
  // Maps `path` read-only. Throws lockstep::Error naming the file when it cannot be opened,
  // is a directory, or cannot be mapped. An empty file maps to an empty span.
  static std::shared_ptr<const MappedFile> open(const std::string& path);

  // Wraps bytes owned elsewhere that live for the whole program (no copy).
  static std::shared_ptr<const MappedFile> from_static_memory(std::span<const std::uint8_t> bytes,
                                                              std::string name);

  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  std::span<const std::uint8_t> bytes() const { return {data_, size_}; }
  const std::string& name() const { return name_; }  // path, or a label for memory

 private:
  MappedFile() = default;
  const std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
  bool owns_mapping_ = false;
  std::string name_;
};

}  // namespace lockstep
