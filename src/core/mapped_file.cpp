#include "core/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace lockstep {

std::shared_ptr<const MappedFile> MappedFile::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("cannot open '{}': {}", path, std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    fail("cannot stat '{}': {}", path, std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    fail("'{}' is not a regular file", path);
  }
  auto file = std::shared_ptr<MappedFile>(new MappedFile());
  file->name_ = path;
  file->size_ = static_cast<std::size_t>(st.st_size);
  if (file->size_ > 0) {
    void* p = ::mmap(nullptr, file->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      int err = errno;
      ::close(fd);
      fail("cannot map '{}' into memory: {}", path, std::strerror(err));
    }
    file->data_ = static_cast<const std::uint8_t*>(p);
    file->owns_mapping_ = true;
  }
  ::close(fd);
  return file;
}

std::shared_ptr<const MappedFile> MappedFile::from_static_memory(std::span<const std::uint8_t> bytes,
                                                                 std::string name) {
  auto file = std::shared_ptr<MappedFile>(new MappedFile());
  file->data_ = bytes.data();
  file->size_ = bytes.size();
  file->name_ = std::move(name);
  return file;
}

MappedFile::~MappedFile() {
  if (owns_mapping_) ::munmap(const_cast<std::uint8_t*>(data_), size_);
}

}  // namespace lockstep
