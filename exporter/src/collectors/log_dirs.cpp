#include "collectors/log_dirs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <utility>

#include "metrics/catalogue.h"
#include "util/log.h"

namespace dora {
namespace {

bool IsTopicChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '-';
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// A directory's mtime this close to "now" may still change within the same
// timestamp tick after we read it (the "racy git" problem): rescan it next time.
constexpr int64_t kRacySeconds = 2;

bool SameTime(const timespec& a, const timespec& b) { return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec; }

bool OldEnough(const timespec& t) {
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  return now.tv_sec - t.tv_sec > kRacySeconds;
}

struct DirCloser {
  void operator()(DIR* d) const { closedir(d); }
};
using DirPtr = std::unique_ptr<DIR, DirCloser>;

// Opens `name` under `dirfd` (or an absolute path with AT_FDCWD) for reading entries.
DirPtr OpenDirAt(int dirfd, const char* name) {
  int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return nullptr;
  DIR* d = fdopendir(fd);
  if (d == nullptr) {
    close(fd);
    return nullptr;
  }
  return DirPtr(d);
}

std::string Errno() { return std::strerror(errno); }

// An owned file descriptor (-1: none), closed once.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) {
      Close();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { Close(); }
  int get() const { return fd_; }

 private:
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }
  int fd_ = -1;
};

}  // namespace

std::optional<TopicPartition> ParsePartitionDirName(std::string_view name) {
  // Kafka renames dirs it is about to delete or move: "<topic>-<p>.<uuid>-delete" etc.
  if (EndsWith(name, "-delete") || EndsWith(name, "-future") || EndsWith(name, "-stray")) return std::nullopt;
  size_t dash = name.rfind('-');
  if (dash == std::string_view::npos || dash == 0 || dash + 1 >= name.size()) return std::nullopt;
  std::string_view topic = name.substr(0, dash);
  std::string_view digits = name.substr(dash + 1);
  if (topic.size() > 249 || topic == "." || topic == "..") return std::nullopt;
  if (!std::all_of(topic.begin(), topic.end(), IsTopicChar)) return std::nullopt;
  if (digits.size() > 10 || (digits.size() > 1 && digits[0] == '0')) return std::nullopt;
  int64_t p = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    p = p * 10 + (c - '0');
  }
  if (p > INT32_MAX) return std::nullopt;
  return TopicPartition{std::string(topic), static_cast<int32_t>(p)};
}

std::optional<uint64_t> ParseSegmentFileName(std::string_view name) {
  constexpr size_t kDigits = 20;
  if (name.size() != kDigits + 4 || !EndsWith(name, ".log")) return std::nullopt;
  uint64_t v = 0;
  for (size_t i = 0; i < kDigits; ++i) {
    char c = name[i];
    if (c < '0' || c > '9') return std::nullopt;
    uint64_t next = v * 10 + static_cast<uint64_t>(c - '0');
    if (next < v) return std::nullopt;
    v = next;
  }
  return v;
}

FsUsage ComputeFsUsage(uint64_t blocks, uint64_t bfree, uint64_t bavail, uint64_t frsize) {
  FsUsage u;
  u.size_bytes = blocks * frsize;
  u.free_bytes = bavail * frsize;
  uint64_t used = blocks >= bfree ? blocks - bfree : 0;
  uint64_t denom = used + bavail;
  u.used_ratio = denom == 0 ? 0.0 : static_cast<double>(used) / static_cast<double>(denom);
  return u;
}

void RenderLogDirs(const std::string& broker, const std::vector<LogDirReport>& reports, MetricsBuilder& out) {
  auto size = out.Family(DORA_METRIC("kafka_log_dir_size_bytes"));
  auto free = out.Family(DORA_METRIC("kafka_log_dir_free_bytes"));
  auto used = out.Family(DORA_METRIC("kafka_log_dir_used_ratio"));
  auto part = out.Family(DORA_METRIC("kafka_log_dir_partition_size_bytes"));
  auto broker_total = out.Family(DORA_METRIC("kafka_broker_log_dir_size_total_bytes"));
  auto topic_total = out.Family(DORA_METRIC("kafka_topic_log_dir_size_total_bytes"));

  bool all_listed = true;
  bool all_sized = true;
  std::set<std::string> unsized;
  std::map<std::string, uint64_t> topics;
  uint64_t total = 0;
  std::string pbuf;
  for (const auto& r : reports) {
    std::initializer_list<Label> dir_labels = {{"broker", broker}, {"log_dir", r.path}};
    if (r.fs) {
      out.Add(size, dir_labels, static_cast<double>(r.fs->size_bytes));
      out.Add(free, dir_labels, static_cast<double>(r.fs->free_bytes));
      out.Add(used, dir_labels, r.fs->used_ratio);
    }
    all_listed = all_listed && r.listed;
    all_sized = all_sized && r.unsized_topics.empty();
    unsized.insert(r.unsized_topics.begin(), r.unsized_topics.end());
    for (const auto& [tp, bytes] : r.partitions) {
      pbuf = std::to_string(tp.partition);
      out.Add(part, {{"broker", broker}, {"log_dir", r.path}, {"topic", tp.topic}, {"partition", pbuf}},
              static_cast<double>(bytes));
      topics[tp.topic] += bytes;
      total += bytes;
    }
  }
  // A sum over part of the data would look like a real drop in usage: leave it out.
  if (!all_listed) return;
  if (all_sized) out.Add(broker_total, {{"broker", broker}}, static_cast<double>(total));
  for (const auto& [topic, bytes] : topics) {
    if (unsized.count(topic) == 0) out.Add(topic_total, {{"broker", broker}, {"topic", topic}}, bytes);
  }
}

bool LogDirScanner::Spend(int64_t n) {
  if (used_ + n > max_entries_) return false;
  used_ += n;
  return true;
}

bool LogDirScanner::ListDir(const std::string& path, DirCache* dir, std::vector<std::string>* problems) {
  DirPtr d = OpenDirAt(AT_FDCWD, path.c_str());
  if (!d) {
    problems->push_back(path + ": cannot list: " + Errno());
    return false;
  }
  int fd = dirfd(d.get());
  std::map<std::string, TopicPartition> names;
  errno = 0;
  while (dirent* e = readdir(d.get())) {
    if (!Spend(1)) {
      exhausted_ = true;
      return false;
    }
    auto tp = ParsePartitionDirName(e->d_name);
    if (!tp) continue;
    bool is_dir = e->d_type == DT_DIR;
    if (e->d_type == DT_UNKNOWN) {
      struct stat st {};
      if (!Spend(1)) {
        exhausted_ = true;
        return false;
      }
      is_dir = fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
    }
    if (is_dir) names.emplace(e->d_name, std::move(*tp));
  }
  // Forget partitions that left (deleted, moved to another dir).
  for (auto it = dir->parts.begin(); it != dir->parts.end();) {
    it = names.count(it->first) ? std::next(it) : dir->parts.erase(it);
  }
  dir->names = std::move(names);
  dir->listed = true;
  return true;
}

bool LogDirScanner::SizePartition(int dirfd, const std::string& name, PartitionCache* pc, bool* gone) {
  *gone = false;
  struct stat st {};
  if (!Spend(1)) return false;
  if (fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode)) {
    *gone = true;
    return true;
  }
  // Closed segments only change through renames (roll, retention, compaction
  // swap), which change the dir's mtime; appends only grow the active segment.
  if (pc->sized && pc->trusted && SameTime(st.st_mtim, pc->mtime)) {
    if (pc->active.empty()) return true;
    if (!Spend(1)) return false;
    struct stat seg {};
    std::string rel = name + "/" + pc->active;
    if (fstatat(dirfd, rel.c_str(), &seg, AT_SYMLINK_NOFOLLOW) == 0) {
      pc->active_bytes = static_cast<uint64_t>(seg.st_size);
      return true;
    }
    // The active segment went away under us: fall through to a full rescan.
  }
  DirPtr d = OpenDirAt(dirfd, name.c_str());
  if (!d) {
    *gone = true;
    return true;
  }
  int pfd = ::dirfd(d.get());
  std::vector<std::pair<uint64_t, uint64_t>> segments;  // (base offset, bytes)
  while (dirent* e = readdir(d.get())) {
    if (!Spend(1)) return false;
    auto base = ParseSegmentFileName(e->d_name);
    if (!base) continue;
    struct stat seg {};
    if (!Spend(1)) return false;
    if (fstatat(pfd, e->d_name, &seg, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(seg.st_mode)) continue;
    segments.emplace_back(*base, static_cast<uint64_t>(seg.st_size));
  }
  std::sort(segments.begin(), segments.end());
  PartitionCache next;
  next.mtime = st.st_mtim;
  next.trusted = OldEnough(st.st_mtim);
  next.sized = true;
  for (size_t i = 0; i + 1 < segments.size(); ++i) next.closed_bytes += segments[i].second;
  if (!segments.empty()) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%020llu.log", static_cast<unsigned long long>(segments.back().first));
    next.active = buf;
    next.active_bytes = segments.back().second;
  }
  *pc = std::move(next);
  return true;
}

std::vector<LogDirReport> LogDirScanner::Scan(const std::vector<std::string>& paths,
                                              std::chrono::steady_clock::time_point deadline,
                                              std::vector<std::string>* problems) {
  used_ = 0;
  exhausted_ = false;
  timed_out_ = false;
  std::vector<LogDirReport> reports(paths.size());
  // Dirs no longer configured (reload) leave the cache.
  for (auto it = dirs_.begin(); it != dirs_.end();) {
    bool keep = std::find(paths.begin(), paths.end(), it->first) != paths.end();
    it = keep ? std::next(it) : dirs_.erase(it);
  }
  // Closed on every way out, an exception included.
  std::vector<UniqueFd> fds(paths.size());
  for (size_t i = 0; i < paths.size(); ++i) {
    const std::string& path = paths[i];
    reports[i].path = path;
    struct statvfs vfs {};
    if (statvfs(path.c_str(), &vfs) == 0) {
      reports[i].fs = ComputeFsUsage(vfs.f_blocks, vfs.f_bfree, vfs.f_bavail, vfs.f_frsize);
    } else {
      problems->push_back(path + ": statvfs: " + Errno());
    }
    DirCache& dir = dirs_[path];
    struct stat st {};
    bool found = stat(path.c_str(), &st) == 0;
    if (!found || !S_ISDIR(st.st_mode)) {
      problems->push_back(path + ": " + (found ? std::string("not a directory") : Errno()));
      dir = DirCache{};
      continue;
    }
    if (!(dir.listed && dir.trusted && SameTime(st.st_mtim, dir.mtime))) {
      if (ListDir(path, &dir, problems)) {
        dir.mtime = st.st_mtim;
        dir.trusted = OldEnough(st.st_mtim);
      } else {
        dir.trusted = false;  // list again next run; a previous listing (if any) stays in use
      }
    }
    fds[i] = UniqueFd(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  }

  // Partitions in a fixed order; the walk resumes where the last run stopped.
  std::vector<std::pair<size_t, std::string>> items;
  for (size_t i = 0; i < paths.size(); ++i) {
    if (fds[i].get() < 0) continue;
    for (const auto& [name, tp] : dirs_[paths[i]].names) items.emplace_back(i, name);
  }
  size_t start = std::lower_bound(items.begin(), items.end(), cursor_) - items.begin();
  if (start >= items.size()) start = 0;
  bool stopped = false;
  for (size_t k = 0; k < items.size(); ++k) {
    const auto& [i, name] = items[(start + k) % items.size()];
    DirCache& dir = dirs_[paths[i]];
    if (std::chrono::steady_clock::now() >= deadline) {
      timed_out_ = true;
      cursor_ = items[(start + k) % items.size()];
      stopped = true;
      break;
    }
    bool gone = false;
    PartitionCache& pc = dir.parts[name];
    if (!SizePartition(fds[i].get(), name, &pc, &gone)) {
      exhausted_ = true;
      cursor_ = items[(start + k) % items.size()];
      stopped = true;
      break;
    }
    if (gone) {
      std::string gone_name = name;  // `name` refers into `items`, not the maps
      dir.parts.erase(gone_name);
      dir.names.erase(gone_name);
      dir.trusted = false;  // relist next run
    }
  }
  if (!stopped) cursor_ = {};

  for (size_t i = 0; i < paths.size(); ++i) {
    LogDirReport& r = reports[i];
    auto it = dirs_.find(paths[i]);
    if (it == dirs_.end() || fds[i].get() < 0) continue;
    const DirCache& dir = it->second;
    r.listed = dir.listed;
    for (const auto& [name, tp] : dir.names) {
      auto pc = dir.parts.find(name);
      if (pc == dir.parts.end() || !pc->second.sized) {
        // Not sized yet (budget) or gone since the listing: the topic's sum is unknown.
        r.unsized_topics.insert(tp.topic);
        continue;
      }
      r.partitions[tp] = pc->second.closed_bytes + pc->second.active_bytes;
    }
  }
  return reports;
}

LogDirsCollector::LogDirsCollector(LogDirsCollectorConfig config)
    : config_(std::move(config)), scanner_(config_.max_entries_per_cycle) {}

Status LogDirsCollector::Collect(const CollectContext& ctx, MetricsBuilder& out) {
  std::vector<std::string> problems;
  auto reports = scanner_.Scan(config_.paths, ctx.deadline, &problems);
  // The cause of the first problem is the one reported.
  Reason cause = Reason::kUnavailable;
  RenderLogDirs(config_.broker_id, reports, out);
  size_t unsized = 0;
  bool any = false;
  for (const auto& r : reports) {
    any = any || r.fs || r.listed;
    if (r.fs && !r.listed) problems.push_back(r.path + ": partition list not known yet");
    unsized += r.unsized_topics.size();
  }
  auto log = GetLogger("collector.log_dirs");
  std::string stop = scanner_.timed_out() ? "the timeout" : "max_entries_per_cycle";
  if (scanner_.exhausted() || scanner_.timed_out()) {
    // Sizes not refreshed this run keep their last value; the walk resumes next run.
    log->debug("{} reached after {} entries; the walk resumes next run", stop, scanner_.entries_used());
  }
  if (unsized > 0) {
    if (problems.empty() && scanner_.timed_out()) cause = Reason::kTimeout;
    problems.push_back(std::to_string(unsized) + " topic(s) with partitions not sized yet (" + stop +
                       " reached); their totals are left out");
  }
  if (problems.empty()) return Status::Ok();
  std::string msg = problems.front();
  if (problems.size() > 1) msg += " (and " + std::to_string(problems.size() - 1) + " more)";
  return any ? Status::Partial(cause, msg) : Status::Error(cause, msg);
}

}  // namespace dora
