#pragma once
// SmallFs: a small file system of its own for disk-usage tests, ext4 on a loop
// device, else tmpfs (both need root). Unmounted (lazily if busy) and removed
// by the destructor.
#include <string>
#include <utility>

namespace dora::test {

// Runs a command line through the shell with its output captured (bounded: 30 s).
std::pair<int, std::string> Shell(const std::string& cmd);

// The used share of the file system holding `path`, as df counts it (-1 on error).
double StatvfsUsed(const std::string& path);

struct SmallFs {
  std::string dir;  // the mount point
  std::string image;
  std::string kind;  // "ext4 (loop)" or "tmpfs"
  bool mounted = false;
  SmallFs();
  ~SmallFs();
  SmallFs(const SmallFs&) = delete;
  SmallFs& operator=(const SmallFs&) = delete;
};

}  // namespace dora::test
