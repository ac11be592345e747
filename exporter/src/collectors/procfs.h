#pragma once
// What /proc says about one process, for the broker_process collector: pure
// parsers of each file's text (unit-tested on fixture text), and ProcFs, the
// only I/O, which reads under a proc root and a cgroup root (tests point both
// at fixture trees). ProcFs holds no state besides its two roots: it is safe
// to use from any thread.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dora::procfs {

// /proc/PID/stat. The comm field may hold spaces and ')': fields are counted
// from the last ')'.
struct Stat {
  char state = '?';
  uint64_t utime_ticks = 0;  // field 14, clock ticks
  uint64_t stime_ticks = 0;  // field 15
  int64_t num_threads = 0;   // field 20
  uint64_t start_ticks = 0;  // field 22, clock ticks after boot
  uint64_t vsize_bytes = 0;  // field 23
  int64_t rss_pages = 0;     // field 24
};
std::optional<Stat> ParseStat(std::string_view text);

// /proc/stat: "btime <unix seconds>".
std::optional<uint64_t> ParseBootTime(std::string_view text);

// /proc/PID/limits: the soft limit of "Max open files" (nullopt: no such
// line, or "unlimited", which RLIMIT_NOFILE cannot be).
std::optional<uint64_t> ParseMaxOpenFiles(std::string_view text);

// /proc/PID/status: the CPUs of "Cpus_allowed_list" ("0-3,8,10-11" -> 6).
std::optional<int> ParseCpusAllowed(std::string_view status);

// /proc/PID/io: bytes the process made the storage layer fetch and send.
struct Io {
  uint64_t read_bytes = 0;
  uint64_t write_bytes = 0;
};
std::optional<Io> ParseIo(std::string_view text);

// /proc/PID/net/dev: per interface of the process's network namespace.
struct NetDev {
  std::string device;
  uint64_t receive_bytes = 0;
  uint64_t transmit_bytes = 0;
};
std::optional<std::vector<NetDev>> ParseNetDev(std::string_view text);

// /proc/PID/cmdline: NUL-separated arguments (a trailing NUL or none).
std::vector<std::string> SplitCmdline(std::string_view raw);
// A Kafka broker JVM: argv[0] is `java` (any directory) and one argument is
// exactly the main class `kafka.Kafka`. `pgrep -f kafka.Kafka` is not one.
bool RunsKafka(const std::vector<std::string>& argv);

// /proc/PID/cgroup lines "id:controllers:path".
struct CgroupLine {
  std::string controllers;  // "" on the cgroup v2 line ("0::/path")
  std::string path;
};
std::vector<CgroupLine> ParseCgroup(std::string_view text);

// The CPU cores a cgroup allows: +inf without a quota, nullopt when unreadable.
// v2 cpu.max: "max 100000" or "<quota> <period>"; v1: cpu.cfs_quota_us (-1 =
// none) and cpu.cfs_period_us.
std::optional<double> ParseCpuMax(std::string_view text);
std::optional<double> ParseCfsQuota(std::string_view quota, std::string_view period);

// A file's text or the errno that stopped it.
struct ReadResult {
  std::string text;
  int error = 0;  // 0: read; ENOENT/ESRCH: gone; EACCES/EPERM: not allowed
  bool ok() const { return error == 0; }
};

class ProcFs {
 public:
  explicit ProcFs(std::string proc_root = "/proc", std::string cgroup_root = "/sys/fs/cgroup");
  const std::string& proc_root() const { return proc_; }

  // <proc>/<pid>/<name>, at most 1 MiB (the command line of a JVM with a long
  // class path is tens of kB).
  ReadResult ReadPid(int pid, const std::string& name) const;
  // <proc>/<name>
  ReadResult ReadProc(const std::string& name) const;
  // The numeric entries of <proc> (every visible process), ascending.
  std::vector<int> Pids() const;
  // Entries of <proc>/<pid>/fd: the process's open file descriptors. On
  // procfs since Linux 6.2 the directory's size is that count, read with one
  // stat; else (and under a fixture tree) the directory is listed.
  ReadResult CountFds(int pid, int64_t* count) const;

  // The CPU cores the process's cgroup allows (the lowest quota of its cgroup
  // and its ancestors; +inf without one). Looked up, v2 then v1, under the
  // cgroup root by the path in /proc/PID/cgroup, else (a path outside this
  // cgroup namespace, as a container's neighbour sees it) under the process's
  // own /proc/PID/root/sys/fs/cgroup, which needs the broker's uid. nullopt
  // when no cgroup CPU file could be read.
  std::optional<double> CgroupCpuLimit(int pid) const;

 private:
  std::optional<double> LimitUnder(const std::string& dir, const std::string& path, bool v2) const;
  std::string proc_;
  std::string cgroup_;
};

// Reads all of `path` (at most `max_bytes`): /proc files have no size to trust.
ReadResult ReadAll(const std::string& path, size_t max_bytes = 1u << 20);

}  // namespace dora::procfs
