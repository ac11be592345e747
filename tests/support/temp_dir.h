#pragma once
// A fresh directory under /tmp for a test's files, removed with everything in
// it by the destructor.
#include <stdlib.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

namespace dora::test {

struct TempDir {
  std::string path;
  explicit TempDir(const std::string& prefix = "dora-test") {
    std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
    path = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::string cmd = "rm -rf '" + path + "'";
    if (std::system(cmd.c_str()) != 0) {
    }
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string P(const std::string& name) const { return path + "/" + name; }
  // Written next to the target and renamed over it: readers see old or new, never half.
  std::string Write(const std::string& name, const std::string& text) const {
    std::string tmp = P("." + name + ".tmp");
    std::ofstream(tmp) << text;
    std::rename(tmp.c_str(), P(name).c_str());
    return P(name);
  }
};

}  // namespace dora::test
