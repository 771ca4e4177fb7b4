#include "common/mapped_file.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include <map>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/large_pages.h"

namespace tessera {
namespace {

// The live mappings, start -> end, for DropPages.
absl::Mutex mappings_mutex(absl::kConstInit);
std::map<uintptr_t, uintptr_t>& Mappings()
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(mappings_mutex) {
  static auto* mappings = new std::map<uintptr_t, uintptr_t>;
  return *mappings;
}

absl::Status ErrnoStatus(int err, absl::string_view what,
                         const std::string& path) {
  std::string message = absl::StrCat(what, " ", path, ": ", strerror(err));
  if (err == ENOENT) return absl::NotFoundError(message);
  if (err == EACCES || err == EPERM) {
    return absl::PermissionDeniedError(message);
  }
  return absl::InternalError(message);
}

}  // namespace

absl::StatusOr<std::unique_ptr<MappedFile>> MappedFile::Open(
    const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "cannot open", path);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return ErrnoStatus(err, "cannot stat", path);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return absl::InvalidArgumentError(
        absl::StrCat("not a regular file: ", path));
  }
  size_t size = static_cast<size_t>(st.st_size);
  if (size == 0) {
    ::close(fd);
    static const uint8_t kEmpty[1] = {0};
    return std::unique_ptr<MappedFile>(
        new MappedFile(path, kEmpty, 0, /*mapped=*/false));
  }
  void* addr = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  int err = errno;
  ::close(fd);
  if (addr == MAP_FAILED) return ErrnoStatus(err, "cannot mmap", path);
  // Model files are streamed through once per token: 2 MiB pages where the
  // kernel can (see large_pages.h).
  AdviseHugePages(addr, size);
  {
    absl::MutexLock lock(&mappings_mutex);
    const auto start = reinterpret_cast<uintptr_t>(addr);
    Mappings()[start] = start + size;
  }
  return std::unique_ptr<MappedFile>(new MappedFile(
      path, static_cast<const uint8_t*>(addr), size, /*mapped=*/true));
}

MappedFile::~MappedFile() {
  if (!mapped_) return;
  {
    absl::MutexLock lock(&mappings_mutex);
    Mappings().erase(reinterpret_cast<uintptr_t>(data_));
  }
  ::munmap(const_cast<uint8_t*>(data_), size_);
}

bool MappedFile::DropPages(const void* begin, size_t bytes) {
  const auto first = reinterpret_cast<uintptr_t>(begin);
  const uintptr_t last = first + bytes;
  absl::MutexLock lock(&mappings_mutex);
  auto it = Mappings().upper_bound(first);
  if (it == Mappings().begin()) return false;
  --it;  // the mapping starting at or before `first`
  if (last > it->second) return false;
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t from = (first + page - 1) / page * page;
  const uintptr_t to = last / page * page;
  // A private, read-only file mapping: dropped pages read back from the
  // file, unchanged.
  if (to > from) {
    ::madvise(reinterpret_cast<void*>(from), to - from, MADV_DONTNEED);
  }
  return true;
}

absl::StatusOr<std::string> ReadFileToString(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return ErrnoStatus(errno ? errno : ENOENT, "cannot open", path);
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) return absl::InternalError(absl::StrCat("cannot read ", path));
  return out.str();
}

absl::Status WriteStringToFile(const std::string& path,
                               absl::string_view data) {
  std::string tmp = absl::StrCat(path, ".tmp.", ::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return ErrnoStatus(errno, "cannot create", tmp);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    out.flush();
    if (!out) return ErrnoStatus(errno, "cannot write", tmp);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return ErrnoStatus(err, "cannot rename onto", path);
  }
  return absl::OkStatus();
}

}  // namespace tessera
