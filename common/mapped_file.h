// MappedFile: a read-only memory map of a whole file, advised for
// transparent huge pages (large_pages.h): the kernel backs it with 2 MiB
// pages where the file system and page cache allow.
//
// The mapping lives as long as the object; data() stays valid and immutable
// until destruction. Thread-safe for concurrent readers (immutable after Open).
#ifndef TESSERA_COMMON_MAPPED_FILE_H_
#define TESSERA_COMMON_MAPPED_FILE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tessera {

class MappedFile {
 public:
  // Maps `path` read-only. NotFound if it does not exist, PermissionDenied or
  // Internal for other failures, with the path and errno text in the message.
  // An empty file maps to size() == 0 and a non-null data().
  static absl::StatusOr<std::unique_ptr<MappedFile>> Open(
      const std::string& path);

  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

  // When [begin, begin + bytes) lies inside a live MappedFile, drops the
  // whole pages of that range from this process's memory (they are read
  // from the file again if touched) and returns true; otherwise (memory
  // that is not a mapped file) does nothing and returns false. For callers
  // that keep a converted copy of mapped data.
  static bool DropPages(const void* begin, size_t bytes);

 private:
  MappedFile(std::string path, const uint8_t* data, size_t size, bool mapped)
      : path_(std::move(path)), data_(data), size_(size), mapped_(mapped) {}

  std::string path_;
  const uint8_t* data_;
  size_t size_;
  bool mapped_;  // false for an empty file (nothing to unmap)
};

// Reads a whole file into a string. NotFound / Internal on failure.
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

// Writes `data` to `path` atomically (write to a temp file, then rename).
absl::Status WriteStringToFile(const std::string& path, absl::string_view data);

}  // namespace tessera

#endif  // TESSERA_COMMON_MAPPED_FILE_H_
