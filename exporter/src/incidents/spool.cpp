#include "incidents/spool.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <regex>

#include "incidents/spool_record.h"

namespace dora::incidents {
namespace {

constexpr char kAckFile[] = "ack";
constexpr char kAckTag[] = "dora-spool-ack 1";

std::string Errno(int err) { return std::strerror(err); }

Status Unavailable(const std::string& what) { return Status::Error(Reason::kUnavailable, what); }

uint32_t TextCrc(const std::string& s) {
  return static_cast<uint32_t>(
      crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(s.data()), static_cast<uInt>(s.size())));
}

// "<segment> <offset>" and its CRC: a half-written or damaged ack file is told apart.
std::string AckText(SpoolPosition p) {
  const std::string body = std::to_string(p.segment) + " " + std::to_string(p.offset);
  return std::string(kAckTag) + " " + body + " " + std::to_string(TextCrc(body)) + "\n";
}

bool ParseAck(const std::string& text, SpoolPosition* out) {
  unsigned long long seg = 0, off = 0, crc = 0;
  char tag[32] = {0};
  int version = 0;
  if (std::sscanf(text.c_str(), "%31s %d %llu %llu %llu", tag, &version, &seg, &off, &crc) != 5) return false;
  if (std::string(tag) + " " + std::to_string(version) != kAckTag) return false;
  const std::string body = std::to_string(seg) + " " + std::to_string(off);
  if (TextCrc(body) != crc) return false;
  *out = {seg, off};
  return true;
}

// Reads [offset, offset + length) of `path`; false when it cannot be opened.
bool ReadRange(const std::string& path, uint64_t offset, uint64_t length, std::string* out,
               std::string* err) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *err = Errno(errno);
    return false;
  }
  out->assign(length, '\0');
  uint64_t done = 0;
  while (done < length) {
    const ssize_t n = ::pread(fd, out->data() + done, length - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // shorter than we knew: what is there is read
    done += static_cast<uint64_t>(n);
  }
  ::close(fd);
  out->resize(done);
  return true;
}

bool WriteAll(int fd, const std::string& data, int* err) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      *err = errno;
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

std::string Spool::SegmentName(uint64_t seq) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "segment-%020llu.log", static_cast<unsigned long long>(seq));
  return buf;
}

std::string Spool::PathOf(uint64_t seq) const { return options_.directory + "/" + SegmentName(seq); }

Spool::Spool(SpoolOptions options) : options_(std::move(options)) {
  if (options_.segment_bytes == 0)
    options_.segment_bytes = std::clamp<uint64_t>(options_.max_bytes / 16, 64u << 10, 4u << 20);
}

Spool::~Spool() {
  CloseActive();
  if (dir_fd_ >= 0) ::close(dir_fd_);
}

Result<std::unique_ptr<Spool>> Spool::Open(const SpoolOptions& options, std::vector<std::string>* warnings) {
  namespace fs = std::filesystem;
  std::unique_ptr<Spool> s(new Spool(options));
  const std::string& dir = s->options_.directory;
  if (dir.empty()) return Unavailable("spool directory not set");
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Unavailable("spool directory " + dir + ": " + ec.message());
  s->dir_fd_ = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (s->dir_fd_ < 0) return Unavailable("spool directory " + dir + ": " + Errno(errno));
  if (::access(dir.c_str(), W_OK) != 0) return Unavailable("spool directory " + dir + ": " + Errno(errno));

  const std::string ack_path = dir + "/" + kAckFile;
  std::string ack_text, err;
  struct stat st {};
  if (::stat(ack_path.c_str(), &st) == 0) {
    if (!ReadRange(ack_path, 0, std::min<uint64_t>(static_cast<uint64_t>(st.st_size), 256), &ack_text,
                   &err) ||
        !ParseAck(ack_text, &s->acked_)) {
      warnings->push_back(ack_path + ": unreadable or damaged (" + (err.empty() ? "bad content" : err) +
                          "); delivering every spooled event again");
      s->acked_ = {};
    }
  }

  static const std::regex kSegment(R"(segment-(\d{20})\.log)");
  std::vector<uint64_t> seqs;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::smatch m;
    const std::string name = entry.path().filename().string();
    if (!std::regex_match(name, m, kSegment)) continue;
    seqs.push_back(std::stoull(m[1].str()));
  }
  if (ec) return Unavailable("spool directory " + dir + ": " + ec.message());
  std::sort(seqs.begin(), seqs.end());
  for (uint64_t seq : seqs) {
    const std::string path = s->PathOf(seq);
    if (seq < s->acked_.segment) {
      ::unlink(path.c_str());  // delivered; a delete lost to a crash is done again here
      continue;
    }
    if (::stat(path.c_str(), &st) != 0) continue;
    const uint64_t size = static_cast<uint64_t>(st.st_size);
    s->segments_.emplace_back(seq, size);
    s->bytes_ += size;
    const uint64_t from = seq == s->acked_.segment ? std::min(s->acked_.offset, size) : 0;
    std::string data;
    if (ReadRange(path, from, size - from, &data, &err)) s->pending_ += ScanRecords(data).records.size();
  }
  s->next_seq_ = std::max(seqs.empty() ? 0 : seqs.back() + 1, s->acked_.segment);
  return s;
}

Status Spool::StartSegment() {
  const uint64_t seq = next_seq_;
  const std::string path = PathOf(seq);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return Unavailable(path + ": " + Errno(errno));
  // The new name must survive a crash as well as the records in it.
  if (::fsync(dir_fd_) != 0) {
    const int e = errno;
    ::close(fd);
    ::unlink(path.c_str());
    return Unavailable(options_.directory + ": fsync: " + Errno(e));
  }
  active_fd_ = fd;
  active_open_ = true;
  ++next_seq_;
  segments_.emplace_back(seq, 0);
  return Status::Ok();
}

void Spool::CloseActive() {
  if (active_fd_ >= 0) ::close(active_fd_);
  active_fd_ = -1;
  std::lock_guard<std::mutex> lock(mu_);
  active_open_ = false;
}

Spool::AppendResult Spool::Append(const std::vector<Entry>& entries, int64_t now_ms) {
  AppendResult result;
  result.accepted.assign(entries.size(), false);
  std::string batch;
  uint64_t admitted = 0;
  bool need_segment = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    uint64_t total = PendingBytesLocked();
    for (size_t i = 0; i < entries.size(); ++i) {
      const Entry& e = entries[i];
      const uint64_t size = RecordSize(e.key, e.payload);
      const uint64_t limit = e.droppable ? options_.max_bytes / 2 : options_.max_bytes;
      if (total + size > limit || e.key.size() > kMaxRecordKey || e.payload.size() > kMaxRecordPayload)
        continue;
      total += size;
      batch += EncodeRecord(e.key, e.payload, now_ms);
      result.accepted[i] = true;
      ++admitted;
    }
    if (admitted == 0) return result;
    need_segment = !active_open_ || segments_.empty() || segments_.back().second >= options_.segment_bytes;
  }
  auto fail = [&](Status s) {
    result.status = std::move(s);
    result.accepted.assign(entries.size(), false);
    return result;
  };
  if (need_segment) {
    CloseActive();
    std::lock_guard<std::mutex> lock(mu_);
    if (Status s = StartSegment(); !s.ok) return fail(s);
  }
  uint64_t synced = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    synced = segments_.back().second;
  }
  int err = 0;
  const bool written = WriteAll(active_fd_, batch, &err);
  const bool durable = written && ::fdatasync(active_fd_) == 0;
  if (!durable) {
    if (written) err = errno;
    const std::string path = PathOf(segments_.back().first);
    // Cut the batch off and start a new segment with the next append: after a
    // failed sync the file's state is unknown. Should the cut fail too, what
    // is left past the synced size is skipped as damaged when the segment is
    // read after a restart (this process reads only up to the synced size).
    if (::ftruncate(active_fd_, static_cast<off_t>(synced)) != 0) err = err != 0 ? err : errno;
    CloseActive();
    return fail(Unavailable(path + ": " + (written ? "fdatasync: " : "write: ") + Errno(err)));
  }
  std::lock_guard<std::mutex> lock(mu_);
  segments_.back().second += batch.size();
  bytes_ += batch.size();
  pending_ += admitted;
  if (segments_.back().second >= options_.segment_bytes) {
    ::close(active_fd_);
    active_fd_ = -1;
    active_open_ = false;
  }
  return result;
}

Spool::ReadResult Spool::Read(SpoolPosition from) const {
  ReadResult out;
  out.next = from;
  std::vector<std::pair<uint64_t, uint64_t>> segments;
  bool active_open = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    segments = segments_;
    active_open = active_open_;
  }
  for (size_t i = 0; i < segments.size(); ++i) {
    const auto [seq, size] = segments[i];
    if (seq < out.next.segment) continue;
    const uint64_t offset = seq == out.next.segment ? out.next.offset : 0;
    const bool active = active_open && i + 1 == segments.size();
    if (offset >= size) {
      out.next = {seq, std::max(offset, size)};
      if (active) return out;
      continue;
    }
    std::string data, err;
    const std::string path = PathOf(seq);
    if (!ReadRange(path, offset, size - offset, &data, &err)) {
      out.skipped.push_back(path + ": skipped " + std::to_string(size - offset) + " bytes at offset " +
                            std::to_string(offset) + ": " + err);
      out.next = {seq, size};
      continue;
    }
    const ScanResult scan = ScanRecords(data);
    for (const SkippedRange& r : scan.skipped)
      out.skipped.push_back(path + ": skipped " + std::to_string(r.length) + " bytes at offset " +
                            std::to_string(offset + r.offset) + ": " + r.reason);
    for (const ScannedRecord& r : scan.records) {
      Record rec;
      rec.position = {seq, offset + r.offset};
      rec.next = {seq, offset + r.offset + r.size};
      rec.appended_ms = r.appended_ms;
      rec.key = r.key;
      rec.payload = r.payload;
      out.records.push_back(std::move(rec));
    }
    // A file shorter than we knew (cut by hand) ends here too.
    out.next = {seq, size};
    if (!out.records.empty()) return out;
  }
  return out;
}

Status Spool::Acknowledge(SpoolPosition upto, uint64_t records) {
  std::vector<uint64_t> doomed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // The end of a closed segment is the start of whatever comes after it.
    for (size_t i = 0; i < segments_.size(); ++i) {
      const bool active = active_open_ && i + 1 == segments_.size();
      if (segments_[i].first == upto.segment && !active && upto.offset >= segments_[i].second) {
        upto = i + 1 < segments_.size() ? SpoolPosition{segments_[i + 1].first, 0}
                                        : SpoolPosition{std::max(next_seq_, upto.segment + 1), 0};
        break;
      }
    }
    if (upto < acked_) upto = acked_;
    if (upto == acked_) {
      pending_ -= std::min(records, pending_);
      return Status::Ok();
    }
  }
  if (Status s = StoreFile(kAckFile, AckText(upto)); !s.ok) return s;
  {
    std::lock_guard<std::mutex> lock(mu_);
    acked_ = upto;
    pending_ -= std::min(records, pending_);
    const bool active_last = active_open_;
    for (size_t i = 0; i < segments_.size();) {
      const bool active = active_last && i + 1 == segments_.size();
      if (segments_[i].first < upto.segment && !active) {
        doomed.push_back(segments_[i].first);
        bytes_ -= std::min(bytes_, segments_[i].second);
        segments_.erase(segments_.begin() + static_cast<long>(i));
      } else {
        ++i;
      }
    }
  }
  for (uint64_t seq : doomed) ::unlink(PathOf(seq).c_str());
  return Status::Ok();
}

Status Spool::StoreFile(const std::string& name, const std::string& content) {
  const std::string tmp = options_.directory + "/" + name + ".tmp";
  const std::string path = options_.directory + "/" + name;
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Unavailable(tmp + ": " + Errno(errno));
  int err = 0;
  const bool ok = WriteAll(fd, content, &err) && (::fdatasync(fd) == 0 || ((err = errno), false));
  ::close(fd);
  if (!ok) return Unavailable(tmp + ": " + Errno(err));
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Unavailable(path + ": rename: " + Errno(errno));
  if (::fsync(dir_fd_) != 0) return Unavailable(options_.directory + ": fsync: " + Errno(errno));
  return Status::Ok();
}

Result<std::string> Spool::LoadFile(const std::string& name) const {
  const std::string path = options_.directory + "/" + name;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::string();
  std::string text, err;
  if (!ReadRange(path, 0, std::min<uint64_t>(static_cast<uint64_t>(st.st_size), 16u << 20), &text, &err))
    return Unavailable(path + ": " + err);
  return text;
}

SpoolPosition Spool::acknowledged() const {
  std::lock_guard<std::mutex> lock(mu_);
  return acked_;
}

uint64_t Spool::bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bytes_;
}

uint64_t Spool::PendingBytesLocked() const {
  uint64_t acked_here = 0;
  for (const auto& seg : segments_)
    if (seg.first == acked_.segment) acked_here = std::min(acked_.offset, seg.second);
  return bytes_ - std::min(bytes_, acked_here);
}

uint64_t Spool::pending_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return PendingBytesLocked();
}

uint64_t Spool::pending_records() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pending_;
}

}  // namespace dora::incidents
