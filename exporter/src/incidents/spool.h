#pragma once
// The incident events' on-disk spool: where an event is accepted before it is
// produced, and where it stays until Kafka acknowledged it.
//
// A directory of append-only segment files (segment-<20-digit seq>.log) of
// records (incidents/spool_record.h) and one `ack` file: the position before
// which every record was delivered. An append is written and fdatasync'ed
// before it counts as accepted (one sync per batch). The ack file is replaced
// atomically (written, fsync'ed, renamed, directory fsync'ed); segments wholly
// before it are deleted. After a restart everything from the ack position on
// is read again: at least once, never lost.
//
// Each Open starts a new segment: a segment left by an earlier process is
// never appended to, so a torn tail stays a tail (reported, skipped).
//
// Bounded by max_bytes of records not yet acknowledged: an append marked
// droppable (a re-notification) is refused once they would pass half of
// max_bytes, any other once they would pass max_bytes. On disk that is at
// most max_bytes plus one segment (acknowledged records of the active one).
//
// Thread-safe: one writer (Append) and one reader (Read, Acknowledge) may
// run at once; the reader only sees what an Append has synced.
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "util/status.h"

namespace dora::incidents {

struct SpoolPosition {
  uint64_t segment = 0;
  uint64_t offset = 0;
  bool operator==(const SpoolPosition& o) const { return segment == o.segment && offset == o.offset; }
  bool operator!=(const SpoolPosition& o) const { return !(*this == o); }
  bool operator<(const SpoolPosition& o) const {
    return segment != o.segment ? segment < o.segment : offset < o.offset;
  }
};

struct SpoolOptions {
  std::string directory;
  uint64_t max_bytes = 64u << 20;
  // Size at which the active segment is closed and a new one started; 0:
  // max_bytes / 16, between 64 KiB and 4 MiB.
  uint64_t segment_bytes = 0;
};

class Spool {
 public:
  // Creates the directory if needed, reads the ack file (a missing one is
  // the start; a damaged one is reported in *warnings and read as the start:
  // events are delivered again rather than lost), deletes wholly
  // acknowledged segments, counts what is pending and starts a new segment.
  // Fails (reason "unavailable") when the directory cannot be used.
  static Result<std::unique_ptr<Spool>> Open(const SpoolOptions& options, std::vector<std::string>* warnings);
  ~Spool();
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  struct Entry {
    std::string key;
    std::string payload;
    bool droppable = false;  // refused first when the spool fills
  };
  struct AppendResult {
    Status status;               // not ok: nothing of this batch was accepted (retry it)
    std::vector<bool> accepted;  // per entry; false: refused by the bound (when status is ok)
  };
  // Appends the entries the bound admits, in order, and syncs them. On a
  // write or sync error the segment is cut back to its last synced size (or,
  // failing that, closed: the next append starts a new one).
  AppendResult Append(const std::vector<Entry>& entries, int64_t now_ms);

  struct Record {
    SpoolPosition position;  // of its first byte
    SpoolPosition next;      // just after it
    int64_t appended_ms = 0;
    std::string key;
    std::string payload;
  };
  struct ReadResult {
    std::vector<Record> records;
    SpoolPosition next;  // where the next Read continues
    // "<file>: skipped <n> bytes at offset <o>: <reason>" per damaged range.
    std::vector<std::string> skipped;
  };
  // The synced records from `from` (a record boundary, or where a previous
  // Read stopped) to the end of its segment, or of the next segment that
  // has any. A missing segment is skipped (reported).
  ReadResult Read(SpoolPosition from) const;

  // Every record before `upto` was delivered; `records` of them since the
  // last call. Persists the position (fsync'ed), then deletes the segments
  // wholly before it.
  Status Acknowledge(SpoolPosition upto, uint64_t records);
  SpoolPosition acknowledged() const;

  // A small file of the spool's owner next to the segments (the open
  // incidents), replaced atomically: written, synced, renamed, directory
  // synced. Called by the writer. LoadFile answers "" when it does not exist.
  Status StoreFile(const std::string& name, const std::string& content);
  Result<std::string> LoadFile(const std::string& name) const;

  uint64_t bytes() const;            // of the segment files
  uint64_t pending_bytes() const;    // of the records not acknowledged (what the bound counts)
  uint64_t pending_records() const;  // synced and not acknowledged
  const std::string& directory() const { return options_.directory; }

  // Segment file name of `seq` ("segment-00000000000000000007.log").
  static std::string SegmentName(uint64_t seq);

 private:
  explicit Spool(SpoolOptions options);
  Status StartSegment();  // writer: a new active segment (lock held)
  void CloseActive();     // writer
  std::string PathOf(uint64_t seq) const;
  uint64_t PendingBytesLocked() const;

  SpoolOptions options_;
  int dir_fd_ = -1;
  int active_fd_ = -1;  // writer only
  mutable std::mutex mu_;
  // Segments on disk by seq with their synced size; the last is the active
  // one while active_fd_ is open.
  std::vector<std::pair<uint64_t, uint64_t>> segments_;
  uint64_t next_seq_ = 0;
  bool active_open_ = false;
  SpoolPosition acked_;
  uint64_t bytes_ = 0;
  uint64_t pending_ = 0;
};

}  // namespace dora::incidents
