#include "util/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace dora {
namespace {

Status Fail(const std::string& cause) { return Status::Error(Reason::kConfig, cause); }

// Opens `path` read-only and checks it is a regular file; -1 with *status set otherwise.
int OpenRegular(const std::string& path, Status* status) {
  if (path.empty()) {
    *status = Status::Error(Reason::kConfig, "empty file name");
    return -1;
  }
  // O_NONBLOCK: opening a FIFO must not wait for a writer; cleared below.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    *status = Fail(std::strerror(errno));
    return -1;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    *status = Fail(std::strerror(errno));
    ::close(fd);
    return -1;
  }
  if (!S_ISREG(st.st_mode)) {
    *status = Fail(S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file");
    ::close(fd);
    return -1;
  }
  int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  return fd;
}

}  // namespace

Status CheckRegularFile(const std::string& path) {
  Status status;
  int fd = OpenRegular(path, &status);
  if (fd < 0) return status;
  ::close(fd);
  return Status::Ok();
}

Result<std::string> ReadRegularFile(const std::string& path, size_t max_bytes) {
  Status status;
  int fd = OpenRegular(path, &status);
  if (fd < 0) return status;
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      status = Fail(std::strerror(errno));
      break;
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > max_bytes) {
      status = Fail("larger than " + std::to_string(max_bytes) + " bytes");
      break;
    }
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  if (!status.ok) return status;
  return out;
}

}  // namespace dora
