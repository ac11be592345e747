// The incident events' spool (incidents/spool.h) and its record format
// (incidents/spool_record.h) on a temp dir: append, read, acknowledge, reopen;
// the bound (re-notifications first); a torn tail, a flipped byte, a damaged
// ack file; a failed write (RLIMIT_FSIZE as a full disk).
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "incidents/spool.h"
#include "incidents/spool_record.h"
#include "support/temp_dir.h"

using namespace dora;
using namespace dora::incidents;
using dora::test::TempDir;

namespace {

std::string Payload(int i, size_t size = 100) {
  std::string p = "{\"n\":" + std::to_string(i) + ",\"pad\":\"";
  p.append(size > p.size() + 2 ? size - p.size() - 2 : 0, 'x');
  return p + "\"}";
}

// Keys of one length: every test record has the same size.
std::string Key(int i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "key-%03d", i);
  return buf;
}

std::unique_ptr<Spool> OpenSpool(const std::string& dir, uint64_t max_bytes = 1 << 20,
                                 std::vector<std::string>* warnings = nullptr, uint64_t segment_bytes = 0) {
  SpoolOptions o;
  o.directory = dir;
  o.max_bytes = max_bytes;
  o.segment_bytes = segment_bytes;
  std::vector<std::string> local;
  auto s = Spool::Open(o, warnings != nullptr ? warnings : &local);
  INFO(s.status().message);
  REQUIRE(s.ok());
  return std::move(s.value());
}

// Every record from the ack position on, as the publisher reads them.
std::vector<Spool::Record> ReadAll(const Spool& s, std::vector<std::string>* skipped = nullptr) {
  std::vector<Spool::Record> out;
  SpoolPosition at = s.acknowledged();
  for (int i = 0; i < 1000; ++i) {  // bounded
    Spool::ReadResult r = s.Read(at);
    if (skipped != nullptr) skipped->insert(skipped->end(), r.skipped.begin(), r.skipped.end());
    for (auto& rec : r.records) out.push_back(rec);
    if (r.records.empty() && r.next == at) break;
    at = r.next;
  }
  return out;
}

void Append(Spool& s, int from, int to, bool droppable = false) {
  std::vector<Spool::Entry> entries;
  for (int i = from; i < to; ++i) entries.push_back({Key(i), Payload(i), droppable});
  auto r = s.Append(entries, 1'700'000'000'000 + from);
  INFO(r.status.message);
  REQUIRE(r.status.ok);
  REQUIRE(std::count(r.accepted.begin(), r.accepted.end(), true) == to - from);
}

std::vector<std::string> Segments(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("segment-", 0) == 0) out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

uint64_t FileSize(const std::string& path) { return std::filesystem::file_size(path); }

}  // namespace

TEST_CASE("spool records round-trip and a damaged one costs only itself", "[incidents][spool]") {
  std::string data;
  std::vector<size_t> offsets;
  for (int i = 0; i < 5; ++i) {
    offsets.push_back(data.size());
    data += EncodeRecord("incident-" + std::to_string(i), Payload(i), 1000 + i);
  }
  ScanResult all = ScanRecords(data);
  REQUIRE(all.records.size() == 5);
  CHECK(all.skipped.empty());
  for (int i = 0; i < 5; ++i) {
    CHECK(all.records[i].offset == offsets[i]);
    CHECK(all.records[i].key == "incident-" + std::to_string(i));
    CHECK(all.records[i].payload == Payload(i));
    CHECK(all.records[i].appended_ms == 1000 + i);
  }
  SECTION("a flipped byte in a payload") {
    std::string bad = data;
    bad[offsets[2] + kRecordHeaderSize + 20] ^= 0x01;
    ScanResult r = ScanRecords(bad);
    REQUIRE(r.records.size() == 4);
    CHECK(r.records[2].key == "incident-3");
    REQUIRE(r.skipped.size() == 1);
    CHECK(r.skipped[0].offset == offsets[2]);
    CHECK(r.skipped[0].length == offsets[3] - offsets[2]);
    CHECK(r.skipped[0].reason == "bad CRC");
  }
  SECTION("a flipped bit in a length") {
    std::string bad = data;
    bad[offsets[1] + 9] ^= 0x40;  // payload length: now longer than the file
    ScanResult r = ScanRecords(bad);
    REQUIRE(r.records.size() == 4);
    REQUIRE(r.skipped.size() == 1);
    CHECK(r.skipped[0].offset == offsets[1]);
    CHECK(r.skipped[0].length == offsets[2] - offsets[1]);
  }
  SECTION("a torn tail") {
    const std::string torn = data.substr(0, offsets[4] + 30);
    ScanResult r = ScanRecords(torn);
    CHECK(r.records.size() == 4);
    REQUIRE(r.skipped.size() == 1);
    CHECK(r.skipped[0].offset == offsets[4]);
    CHECK(r.skipped[0].length == 30);
    CHECK(r.skipped[0].reason == "torn record: ends past the end of the file");
    // Torn inside the header too.
    CHECK(ScanRecords(data.substr(0, offsets[4] + 5)).records.size() == 4);
  }
  SECTION("garbage between records and a lost magic") {
    std::string bad = data.substr(0, offsets[2]) + "garbage DSR garbage" + data.substr(offsets[2]);
    bad[0] = 'X';
    ScanResult r = ScanRecords(bad);
    CHECK(r.records.size() == 4);
    REQUIRE(r.skipped.size() == 2);
    CHECK(r.skipped[0].offset == 0);
    CHECK(r.skipped[0].reason == "bad header");
    CHECK(r.skipped[1].length == 19);
  }
}

TEST_CASE("the spool keeps events until they are acknowledged, across reopening", "[incidents][spool]") {
  TempDir dir("dora-spool");
  {
    auto s = OpenSpool(dir.path);
    CHECK(s->bytes() == 0);
    Append(*s, 0, 3);
    Append(*s, 3, 5);
    CHECK(s->pending_records() == 5);
    CHECK(s->bytes() == 5 * RecordSize(Key(0), Payload(0)));
    auto recs = ReadAll(*s);
    REQUIRE(recs.size() == 5);
    for (int i = 0; i < 5; ++i) CHECK(recs[i].payload == Payload(i));
    CHECK(recs[0].appended_ms == 1'700'000'000'000);
    CHECK(recs[3].appended_ms == 1'700'000'000'003);
    // The first two were delivered.
    REQUIRE(s->Acknowledge(recs[1].next, 2).ok);
    CHECK(s->pending_records() == 3);
  }
  {
    // Reopened (a restart): the acknowledged ones are gone, the rest come again, in order.
    auto s = OpenSpool(dir.path);
    CHECK(s->pending_records() == 3);
    auto recs = ReadAll(*s);
    REQUIRE(recs.size() == 3);
    CHECK(recs[0].payload == Payload(2));
    CHECK(recs[2].payload == Payload(4));
    Append(*s, 5, 6);  // into a new segment
    CHECK(Segments(dir.path).size() == 2);
    recs = ReadAll(*s);
    REQUIRE(recs.size() == 4);
    CHECK(recs[3].payload == Payload(5));
    REQUIRE(s->Acknowledge(recs[3].next, 4).ok);
    CHECK(s->pending_records() == 0);
    // The first segment was wholly acknowledged: deleted.
    CHECK(Segments(dir.path).size() == 1);
  }
  {
    auto s = OpenSpool(dir.path);
    CHECK(s->pending_records() == 0);
    CHECK(ReadAll(*s).empty());
  }
}

TEST_CASE("the spool rolls segments over and deletes them once delivered", "[incidents][spool]") {
  TempDir dir("dora-spool");
  auto s = OpenSpool(dir.path, 1 << 20, nullptr, /*segment_bytes=*/1000);
  for (int i = 0; i < 40; ++i) Append(*s, i, i + 1);
  const size_t segments = Segments(dir.path).size();
  CHECK(segments >= 4);
  auto recs = ReadAll(*s);
  REQUIRE(recs.size() == 40);
  for (int i = 0; i < 40; ++i) CHECK(recs[i].payload == Payload(i));
  REQUIRE(s->Acknowledge(recs[19].next, 20).ok);
  CHECK(Segments(dir.path).size() < segments);
  REQUIRE(s->Acknowledge(recs[39].next, 20).ok);
  CHECK(Segments(dir.path).size() <= 1);
  CHECK(s->bytes() <= 1000 + RecordSize(Key(0), Payload(0)));
  CHECK(s->pending_records() == 0);
}

TEST_CASE("a full spool refuses re-notifications at half its bound and the rest at the bound",
          "[incidents][spool]") {
  TempDir dir("dora-spool");
  const uint64_t record = RecordSize(Key(0), Payload(0));
  auto s = OpenSpool(dir.path, 20 * record);
  // 10 records: half full. A re-notification no longer fits, an opened event does.
  Append(*s, 0, 10);
  auto r = s->Append({{"k", Payload(10), true}, {Key(11), Payload(11), false}}, 1);
  REQUIRE(r.status.ok);
  CHECK(r.accepted == std::vector<bool>{false, true});
  Append(*s, 12, 21);
  CHECK(s->bytes() == 20 * record);
  r = s->Append({{Key(21), Payload(21), false}}, 1);
  REQUIRE(r.status.ok);
  CHECK(r.accepted == std::vector<bool>{false});
  CHECK(s->pending_bytes() == 20 * record);
  // Delivered: room again.
  auto recs = ReadAll(*s);
  REQUIRE(recs.size() == 20);
  REQUIRE(s->Acknowledge(recs.back().next, 20).ok);
  CHECK(s->pending_bytes() == 0);
  Append(*s, 22, 23, /*droppable=*/true);
  CHECK(s->pending_bytes() == record);
}

TEST_CASE("a torn spool tail is reported with its file and offset, every complete record delivered",
          "[incidents][spool]") {
  TempDir dir("dora-spool");
  std::string segment;
  uint64_t torn_at = 0;
  {
    auto s = OpenSpool(dir.path);
    Append(*s, 0, 6);
    segment = Segments(dir.path).at(0);
    torn_at = 5 * RecordSize(Key(0), Payload(0));
  }
  // A crash in the middle of the sixth record's write.
  REQUIRE(::truncate(segment.c_str(), static_cast<off_t>(torn_at + 40)) == 0);
  auto s = OpenSpool(dir.path);
  CHECK(s->pending_records() == 5);
  std::vector<std::string> skipped;
  auto recs = ReadAll(*s, &skipped);
  REQUIRE(recs.size() == 5);
  CHECK(recs[4].payload == Payload(4));
  REQUIRE(skipped.size() == 1);
  CHECK(skipped[0] == segment + ": skipped 40 bytes at offset " + std::to_string(torn_at) +
                          ": torn record: ends past the end of the file");
  // New events go to a new segment, never after the torn bytes.
  Append(*s, 6, 7);
  CHECK(FileSize(segment) == torn_at + 40);
  recs = ReadAll(*s);
  REQUIRE(recs.size() == 6);
  CHECK(recs[5].payload == Payload(6));
  // Once delivered past it, the torn segment goes.
  REQUIRE(s->Acknowledge(recs[5].next, 6).ok);
  CHECK_FALSE(std::filesystem::exists(segment));
}

TEST_CASE("a flipped byte in the spool skips that record only", "[incidents][spool]") {
  TempDir dir("dora-spool");
  std::string segment;
  {
    auto s = OpenSpool(dir.path);
    Append(*s, 0, 5);
    segment = Segments(dir.path).at(0);
  }
  const uint64_t at = 2 * RecordSize(Key(0), Payload(0)) + kRecordHeaderSize + 50;
  {
    std::fstream f(segment, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(at));
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x20);
    f.seekp(static_cast<std::streamoff>(at));
    f.write(&c, 1);
  }
  auto s = OpenSpool(dir.path);
  std::vector<std::string> skipped;
  auto recs = ReadAll(*s, &skipped);
  REQUIRE(recs.size() == 4);
  CHECK(recs[1].payload == Payload(1));
  CHECK(recs[2].payload == Payload(3));
  REQUIRE(skipped.size() == 1);
  CHECK(skipped[0].find(segment + ": skipped " + std::to_string(RecordSize(Key(0), Payload(0))) +
                        " bytes at offset " + std::to_string(2 * RecordSize(Key(0), Payload(0))) +
                        ": bad CRC") == 0);
}

TEST_CASE("a damaged ack file delivers everything again rather than lose anything", "[incidents][spool]") {
  TempDir dir("dora-spool");
  {
    auto s = OpenSpool(dir.path);
    Append(*s, 0, 4);
    auto recs = ReadAll(*s);
    REQUIRE(s->Acknowledge(recs[2].next, 3).ok);
  }
  {
    auto s = OpenSpool(dir.path);
    CHECK(ReadAll(*s).size() == 1);
  }
  dir.Write("ack", "dora-spool-ack 1 0 12345 999\n");  // CRC does not match
  std::vector<std::string> warnings;
  auto s = OpenSpool(dir.path, 1 << 20, &warnings);
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].find(dir.P("ack") + ": unreadable or damaged") == 0);
  CHECK(ReadAll(*s).size() == 4);
}

TEST_CASE("an unusable spool directory is an error naming it", "[incidents][spool]") {
  TempDir dir("dora-spool");
  const std::string file = dir.Write("not-a-dir", "x");
  SpoolOptions o;
  o.directory = file + "/spool";
  std::vector<std::string> warnings;
  auto s = Spool::Open(o, &warnings);
  REQUIRE_FALSE(s.ok());
  CHECK(s.status().message.find(file + "/spool") != std::string::npos);
}

TEST_CASE("a failed spool write accepts nothing of its batch and leaves no partial record",
          "[incidents][spool]") {
  TempDir dir("dora-spool");
  auto s = OpenSpool(dir.path);
  Append(*s, 0, 2);
  const uint64_t before = s->bytes();
  // A disk that is full: writes past this size fail (EFBIG; SIGXFSZ ignored).
  struct rlimit old {};
  REQUIRE(getrlimit(RLIMIT_FSIZE, &old) == 0);
  auto* previous = signal(SIGXFSZ, SIG_IGN);
  struct rlimit limit = old;
  limit.rlim_cur = before + 150;
  REQUIRE(setrlimit(RLIMIT_FSIZE, &limit) == 0);
  std::vector<Spool::Entry> batch = {{Key(2), Payload(2), false}, {Key(3), Payload(3), false}};
  auto r = s->Append(batch, 1);
  REQUIRE(setrlimit(RLIMIT_FSIZE, &old) == 0);
  signal(SIGXFSZ, previous);
  CHECK_FALSE(r.status.ok);
  CHECK(r.status.message.find("write:") != std::string::npos);
  CHECK(r.accepted == std::vector<bool>{false, false});
  CHECK(s->bytes() == before);
  // Retried once there is room: accepted, in a new segment; no torn bytes anywhere.
  r = s->Append(batch, 2);
  REQUIRE(r.status.ok);
  CHECK(r.accepted == std::vector<bool>{true, true});
  std::vector<std::string> skipped;
  auto recs = ReadAll(*s, &skipped);
  REQUIRE(recs.size() == 4);
  CHECK(recs[2].payload == Payload(2));
  CHECK(skipped.empty());
  s.reset();
  auto again = OpenSpool(dir.path);
  skipped.clear();
  CHECK(ReadAll(*again, &skipped).size() == 4);
  CHECK(skipped.empty());
}

TEST_CASE("an fsync'ed append of one event takes milliseconds", "[incidents][spool][bench]") {
  TempDir dir("dora-spool");
  auto s = OpenSpool(dir.path, 64 << 20);
  std::vector<double> ms;
  for (int i = 0; i < 200; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    auto r = s->Append({{"00000000-0000-8000-8000-000000000000", Payload(i, 1500), false}}, i);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    REQUIRE(r.status.ok);
  }
  std::sort(ms.begin(), ms.end());
  WARN("fsync'ed append of one 1.5 KB event: median " << ms[100] << " ms, p99 " << ms[198] << " ms ("
                                                      << dir.path << ")");
  CHECK(ms[100] < 1000);
}
