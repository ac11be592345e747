#include "collectors/procfs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <limits>
#include <memory>

namespace dora::procfs {
namespace {

constexpr long kProcSuperMagic = 0x9fa0;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

template <typename T>
std::optional<T> Number(std::string_view s) {
  s = Trim(s);
  T v{};
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

// Whitespace-separated fields of a line.
std::vector<std::string_view> Fields(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

// Calls f(line) for every line of text (without its '\n').
template <typename F>
void Lines(std::string_view text, F&& f) {
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    f(line);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
}

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// The value after "<key>:" on the line starting with it, trimmed.
std::optional<std::string_view> KeyValue(std::string_view text, std::string_view key) {
  std::optional<std::string_view> out;
  Lines(text, [&](std::string_view line) {
    if (!out && StartsWith(line, key) && line.size() > key.size() && line[key.size()] == ':')
      out = Trim(line.substr(key.size() + 1));
  });
  return out;
}

struct DirCloser {
  void operator()(DIR* d) const { closedir(d); }
};

}  // namespace

std::optional<Stat> ParseStat(std::string_view text) {
  size_t close = text.rfind(')');
  if (close == std::string_view::npos) return std::nullopt;
  // Fields from 3 (state) on; index 0 here is field 3.
  std::vector<std::string_view> f = Fields(Trim(text.substr(close + 1)));
  if (f.size() < 22 || f[0].size() != 1) return std::nullopt;
  Stat s;
  s.state = f[0][0];
  auto utime = Number<uint64_t>(f[14 - 3]);
  auto stime = Number<uint64_t>(f[15 - 3]);
  auto threads = Number<int64_t>(f[20 - 3]);
  auto start = Number<uint64_t>(f[22 - 3]);
  auto vsize = Number<uint64_t>(f[23 - 3]);
  auto rss = Number<int64_t>(f[24 - 3]);
  if (!utime || !stime || !threads || !start || !vsize || !rss) return std::nullopt;
  s.utime_ticks = *utime;
  s.stime_ticks = *stime;
  s.num_threads = *threads;
  s.start_ticks = *start;
  s.vsize_bytes = *vsize;
  s.rss_pages = *rss;
  return s;
}

std::optional<uint64_t> ParseBootTime(std::string_view text) {
  std::optional<uint64_t> out;
  Lines(text, [&](std::string_view line) {
    auto f = Fields(line);
    if (!out && f.size() == 2 && f[0] == "btime") out = Number<uint64_t>(f[1]);
  });
  return out;
}

std::optional<uint64_t> ParseMaxOpenFiles(std::string_view text) {
  std::optional<uint64_t> out;
  Lines(text, [&](std::string_view line) {
    if (out || !StartsWith(line, "Max open files")) return;
    auto f = Fields(line.substr(std::string_view("Max open files").size()));
    if (!f.empty()) out = Number<uint64_t>(f[0]);  // soft limit; "unlimited" does not parse
  });
  return out;
}

std::optional<int> ParseCpusAllowed(std::string_view status) {
  auto list = KeyValue(status, "Cpus_allowed_list");
  if (!list || list->empty()) return std::nullopt;
  int count = 0;
  std::string_view rest = *list;
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    size_t dash = item.find('-');
    auto lo = Number<int>(item.substr(0, dash));
    auto hi = dash == std::string_view::npos ? lo : Number<int>(item.substr(dash + 1));
    if (!lo || !hi || *hi < *lo) return std::nullopt;
    count += *hi - *lo + 1;
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return count > 0 ? std::optional<int>(count) : std::nullopt;
}

std::optional<Io> ParseIo(std::string_view text) {
  auto read = KeyValue(text, "read_bytes");
  auto write = KeyValue(text, "write_bytes");
  if (!read || !write) return std::nullopt;
  auto r = Number<uint64_t>(*read);
  auto w = Number<uint64_t>(*write);
  if (!r || !w) return std::nullopt;
  return Io{*r, *w};
}

std::optional<std::vector<NetDev>> ParseNetDev(std::string_view text) {
  std::vector<NetDev> out;
  bool bad = false;
  int line_no = 0;
  Lines(text, [&](std::string_view line) {
    // Two header lines, then "<device>: rx_bytes rx_packets ... (8 receive) tx_bytes ...".
    if (++line_no <= 2 || Trim(line).empty() || bad) return;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      bad = true;
      return;
    }
    auto f = Fields(line.substr(colon + 1));
    std::optional<uint64_t> rx = f.size() >= 16 ? Number<uint64_t>(f[0]) : std::nullopt;
    std::optional<uint64_t> tx = f.size() >= 16 ? Number<uint64_t>(f[8]) : std::nullopt;
    if (!rx || !tx) {
      bad = true;
      return;
    }
    out.push_back({std::string(Trim(line.substr(0, colon))), *rx, *tx});
  });
  if (bad || line_no < 2) return std::nullopt;
  return out;
}

std::vector<std::string> SplitCmdline(std::string_view raw) {
  std::vector<std::string> out;
  while (!raw.empty()) {
    size_t nul = raw.find('\0');
    out.emplace_back(raw.substr(0, nul));
    if (nul == std::string_view::npos) break;
    raw.remove_prefix(nul + 1);
  }
  return out;
}

bool RunsKafka(const std::vector<std::string>& argv) {
  if (argv.empty()) return false;
  const std::string& exe = argv[0];
  size_t slash = exe.rfind('/');
  if (std::string_view(exe).substr(slash == std::string::npos ? 0 : slash + 1) != "java") return false;
  return std::find(argv.begin() + 1, argv.end(), "kafka.Kafka") != argv.end();
}

std::vector<CgroupLine> ParseCgroup(std::string_view text) {
  std::vector<CgroupLine> out;
  Lines(text, [&](std::string_view line) {
    size_t a = line.find(':');
    if (a == std::string_view::npos) return;
    size_t b = line.find(':', a + 1);
    if (b == std::string_view::npos) return;
    out.push_back({std::string(line.substr(a + 1, b - a - 1)), std::string(line.substr(b + 1))});
  });
  return out;
}

std::optional<double> ParseCpuMax(std::string_view text) {
  auto f = Fields(Trim(text));
  if (f.empty() || f.size() > 2) return std::nullopt;
  if (f[0] == "max") return std::numeric_limits<double>::infinity();
  auto quota = Number<int64_t>(f[0]);
  auto period = f.size() == 2 ? Number<int64_t>(f[1]) : std::optional<int64_t>(100000);
  if (!quota || !period || *quota <= 0 || *period <= 0) return std::nullopt;
  return static_cast<double>(*quota) / static_cast<double>(*period);
}

std::optional<double> ParseCfsQuota(std::string_view quota, std::string_view period) {
  auto q = Number<int64_t>(quota);
  if (!q) return std::nullopt;
  if (*q < 0) return std::numeric_limits<double>::infinity();
  auto p = Number<int64_t>(period);
  if (*q == 0 || !p || *p <= 0) return std::nullopt;
  return static_cast<double>(*q) / static_cast<double>(*p);
}

ReadResult ReadAll(const std::string& path, size_t max_bytes) {
  ReadResult r;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    r.error = errno;
    return r;
  }
  char buf[8192];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      r.error = errno;
      break;
    }
    if (n == 0) break;
    r.text.append(buf, static_cast<size_t>(n));
    if (r.text.size() >= max_bytes) break;
  }
  close(fd);
  if (r.error != 0) r.text.clear();
  return r;
}

ProcFs::ProcFs(std::string proc_root, std::string cgroup_root)
    : proc_(std::move(proc_root)), cgroup_(std::move(cgroup_root)) {}

ReadResult ProcFs::ReadPid(int pid, const std::string& name) const {
  return ReadAll(proc_ + "/" + std::to_string(pid) + "/" + name);
}

ReadResult ProcFs::ReadProc(const std::string& name) const { return ReadAll(proc_ + "/" + name); }

std::vector<int> ProcFs::Pids() const {
  std::vector<int> out;
  std::unique_ptr<DIR, DirCloser> d(opendir(proc_.c_str()));
  if (!d) return out;
  while (dirent* e = readdir(d.get())) {
    if (auto pid = Number<int>(e->d_name); pid && *pid > 0) out.push_back(*pid);
  }
  std::sort(out.begin(), out.end());
  return out;
}

ReadResult ProcFs::CountFds(int pid, int64_t* count) const {
  ReadResult r;
  const std::string dir = proc_ + "/" + std::to_string(pid) + "/fd";
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    r.error = errno;
    return r;
  }
  struct statfs fs {};
  struct stat st {};
  if (fstatfs(fd, &fs) == 0 && fs.f_type == kProcSuperMagic && fstat(fd, &st) == 0 && st.st_size > 0) {
    close(fd);
    *count = st.st_size;
    return r;
  }
  DIR* d = fdopendir(fd);
  if (d == nullptr) {
    r.error = errno;
    close(fd);
    return r;
  }
  std::unique_ptr<DIR, DirCloser> owned(d);
  int64_t n = 0;
  errno = 0;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  if (errno != 0) {
    r.error = errno;
    return r;
  }
  *count = n;
  return r;
}

// The lowest quota of `path` and its ancestors under `dir` (a cgroup v2 mount,
// or a v1 cpu controller mount); +inf when the cgroup exists without one.
std::optional<double> ProcFs::LimitUnder(const std::string& dir, const std::string& path, bool v2) const {
  std::optional<double> limit;
  std::string p = path;
  while (!p.empty() && p.back() == '/') p.pop_back();
  for (;;) {
    const std::string base = dir + p;
    std::optional<double> here;
    if (v2) {
      ReadResult r = ReadAll(base + "/cpu.max");
      if (r.ok()) here = ParseCpuMax(r.text);
    } else {
      ReadResult q = ReadAll(base + "/cpu.cfs_quota_us");
      ReadResult per = ReadAll(base + "/cpu.cfs_period_us");
      if (q.ok() && per.ok()) here = ParseCfsQuota(q.text, per.text);
    }
    if (here) limit = limit ? std::min(*limit, *here) : *here;
    if (p.empty()) break;
    p = p.substr(0, p.rfind('/'));
  }
  // The cgroup is there but sets no quota anywhere up (no CPU controller): none.
  if (!limit && access((dir + path).c_str(), F_OK) == 0) limit = std::numeric_limits<double>::infinity();
  return limit;
}

std::optional<double> ProcFs::CgroupCpuLimit(int pid) const {
  ReadResult r = ReadPid(pid, "cgroup");
  if (!r.ok()) return std::nullopt;
  const std::string own_root = proc_ + "/" + std::to_string(pid) + "/root/sys/fs/cgroup";
  for (const CgroupLine& line : ParseCgroup(r.text)) {
    const bool v2 = line.controllers.empty();
    bool cpu = v2;
    if (!v2) {
      std::string_view c = line.controllers;
      while (!c.empty() && !cpu) {
        size_t comma = c.find(',');
        cpu = c.substr(0, comma) == "cpu";
        if (comma == std::string_view::npos) break;
        c.remove_prefix(comma + 1);
      }
    }
    if (!cpu) continue;
    // The v1 controller's mount is named after its controllers ("cpu,cpuacct"),
    // with "cpu" as a link to it on most distributions.
    const std::string mount =
        v2 ? (access((cgroup_ + "/cgroup.controllers").c_str(), F_OK) == 0 ? cgroup_ : cgroup_ + "/unified")
           : cgroup_ + "/" + line.controllers;
    std::optional<double> limit;
    if (!StartsWith(line.path, "/..")) limit = LimitUnder(mount, line.path, v2);
    // Outside this cgroup namespace, or not mounted here: the process's own view.
    if (!limit) limit = LimitUnder(v2 ? own_root : own_root + "/" + line.controllers, "", v2);
    if (!limit && !v2) limit = LimitUnder(own_root + "/cpu", "", v2);
    if (limit) return limit;
  }
  return std::nullopt;
}

}  // namespace dora::procfs
