#include "support/small_fs.h"

#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

namespace fs = std::filesystem;

namespace dora::test {

std::pair<int, std::string> Shell(const std::string& cmd) {
  std::string full = "timeout 30 " + cmd + " 2>&1";
  FILE* p = popen(full.c_str(), "r");
  if (p == nullptr) return {-1, ""};
  std::string out;
  char buf[512];
  while (fgets(buf, sizeof buf, p)) out += buf;
  int rc = pclose(p);
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, out};
}

double StatvfsUsed(const std::string& path) {
  struct statvfs v {};
  if (statvfs(path.c_str(), &v) != 0) return -1;
  double used = static_cast<double>(v.f_blocks - v.f_bfree);
  return used / (used + static_cast<double>(v.f_bavail));
}

SmallFs::SmallFs() {
  std::string base = "/tmp/dora-it-" + std::to_string(getpid()) + "-smallfs";
  dir = base + "/mnt";
  image = base + "/img";
  fs::create_directories(dir);
  if (Shell("truncate -s 20M " + image).first == 0 && Shell("mkfs.ext4 -q -F " + image).first == 0 &&
      Shell("mount -o loop " + image + " " + dir).first == 0) {
    mounted = true;
    kind = "ext4 (loop)";
    return;
  }
  if (Shell("mount -t tmpfs -o size=20m dora-it " + dir).first == 0) {
    mounted = true;
    kind = "tmpfs";
  }
}

SmallFs::~SmallFs() {
  if (mounted && Shell("umount " + dir).first != 0) Shell("umount -l " + dir);
  std::error_code ec;
  fs::remove_all(fs::path(dir).parent_path(), ec);
}

}  // namespace dora::test
