// The store's shared body and gzip cache (what every scrape serves), and the
// Accept-Encoding check that picks between them.
#include <zlib.h>

#include <catch2/catch.hpp>
#include <string>

#include "http/server.h"
#include "metrics/self_metrics.h"
#include "metrics/snapshot_store.h"

using namespace dora;

namespace {

std::string Gunzip(const std::string& in) {
  z_stream zs{};
  REQUIRE(inflateInit2(&zs, 31) == Z_OK);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  std::string out;
  char buf[16384];
  int rc = Z_OK;
  for (int i = 0; i < 100000 && rc == Z_OK; ++i) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    out.append(buf, sizeof buf - zs.avail_out);
  }
  inflateEnd(&zs);
  REQUIRE(rc == Z_STREAM_END);
  REQUIRE(zs.avail_in == 0);  // one gzip member, nothing after it
  return out;
}

}  // namespace

TEST_CASE("the shared body is the published texts themselves, in order", "[store]") {
  SnapshotStore store;
  store.Publish("offsets", "b 2\n");
  store.Publish("cluster", "a 1\n");
  auto first = store.Shared();
  REQUIRE(first);
  REQUIRE(first->parts.size() == 2);
  CHECK(first->size == 8);
  CHECK(first->Joined() == "a 1\nb 2\n");
  CHECK(first->Joined() == store.Render());
  // No copy: the same strings until a publish replaces one.
  auto again = store.Shared();
  CHECK(again->parts[0].get() == first->parts[0].get());
  CHECK(again->parts[1].get() == first->parts[1].get());
  store.Publish("offsets", "b 3\n");
  auto second = store.Shared();
  CHECK(second->parts[0].get() == first->parts[0].get());
  CHECK(second->parts[1].get() != first->parts[1].get());
  CHECK(second->Joined() == "a 1\nb 3\n");
  CHECK(first->Joined() == "a 1\nb 2\n");  // a scrape still sending the old body keeps it intact
}

TEST_CASE("the gzip body is one gzip stream of the shared body, each entry deflated once per publish",
          "[store]") {
  SnapshotStore store;
  std::string big;
  for (int i = 0; i < 20000; ++i)
    big += "kafka_topic_partition_current_offset{partition=\"" + std::to_string(i) + "\"} 1\n";
  store.Publish("offsets", big);
  store.Publish("cluster", "");  // a failed collector's empty text
  store.Publish(kSelfEntry, "kafka_exporter_collector_success{collector=\"offsets\"} 1\n");
  auto gz = store.SharedGzip();
  REQUIRE(gz);
  CHECK(gz->size == gz->Joined().size());
  CHECK(gz->size < big.size() / 5);
  CHECK(Gunzip(gz->Joined()) == store.Render());

  // A publish of one entry recompresses that entry only: the other parts are
  // the very same strings.
  store.Publish("cluster", "kafka_brokers 3\n");
  auto gz2 = store.SharedGzip();
  REQUIRE(gz2);
  CHECK(Gunzip(gz2->Joined()) == store.Render());
  CHECK(Gunzip(gz2->Joined()) ==
        "kafka_exporter_collector_success{collector=\"offsets\"} 1\nkafka_brokers 3\n" + big);
  size_t shared_parts = 0;
  for (const auto& p : gz2->parts)
    for (const auto& q : gz->parts) shared_parts += p.get() == q.get() ? 1 : 0;
  CHECK(shared_parts == 3);  // header, self and offsets; cluster and the trailer are new

  // An entry that goes leaves the stream.
  store.Remove("offsets");
  auto gz3 = store.SharedGzip();
  REQUIRE(gz3);
  CHECK(Gunzip(gz3->Joined()) == store.Render());
  CHECK(gz3->size < 200);
}

TEST_CASE("a gzip body of nothing is a valid empty gzip stream", "[store]") {
  SnapshotStore store;
  auto gz = store.SharedGzip();
  REQUIRE(gz);
  CHECK(Gunzip(gz->Joined()).empty());
}

TEST_CASE("PublishAll swaps several entries in one generation", "[store]") {
  SnapshotStore store;
  store.Publish(kSelfEntry, "self 0\n");
  uint64_t before = store.generation();
  store.PublishAll({{"offsets", {"o 1\n"}}, {kSelfEntry, {"self 1\n"}}});
  CHECK(store.generation() == before + 1);
  // The self entry sorts before every collector name.
  CHECK(store.Render() == "self 1\no 1\n");
  store.PublishAll({{"cluster", {"c 1\n"}}, {kSelfEntry, {"self 2\n"}}});
  CHECK(store.Render() == "self 2\nc 1\no 1\n");
}

TEST_CASE("Accept-Encoding: gzip unless refused with q=0", "[store][web]") {
  CHECK(AcceptsGzip("gzip"));
  CHECK(AcceptsGzip("gzip, deflate"));
  CHECK(AcceptsGzip("deflate, GZIP;q=0.5"));
  CHECK(AcceptsGzip("identity, *"));
  CHECK(AcceptsGzip("x-gzip"));
  CHECK_FALSE(AcceptsGzip(""));
  CHECK_FALSE(AcceptsGzip("identity"));
  CHECK_FALSE(AcceptsGzip("deflate, br"));
  CHECK_FALSE(AcceptsGzip("gzip;q=0"));
  CHECK_FALSE(AcceptsGzip("gzip;q=0.0, identity"));
  CHECK_FALSE(AcceptsGzip("gzipx"));
}

TEST_CASE("an entry published in pieces is served as those pieces, plain and gzip", "[store]") {
  SnapshotStore store;
  std::vector<std::string> pieces = {"# HELP a A.\n# TYPE a gauge\n", "a{x=\"1\"} 1\na{x=\"2\"} 2\n", "",
                                     "# HELP b B.\n# TYPE b gauge\n", "b 3\n"};
  store.PublishAll({{"offsets", pieces}, {kSelfEntry, {"self 1\n"}}});
  const std::string want = "self 1\n" + pieces[0] + pieces[1] + pieces[3] + pieces[4];
  auto body = store.Shared();
  REQUIRE(body);
  CHECK(body->parts.size() == 5);  // the empty piece is dropped
  CHECK(body->size == want.size());
  CHECK(body->Joined() == want);
  auto gz = store.SharedGzip();
  REQUIRE(gz);
  CHECK(Gunzip(gz->Joined()) == want);

  // Moved in, not copied: the served piece is the published string's own
  // buffer (as the collector runner publishes; an initializer list would copy).
  std::vector<std::string> big = {std::string(4096, 'x') + "\n"};
  const char* big_data = big[0].data();
  std::vector<std::pair<std::string, std::vector<std::string>>> entries(1);
  entries[0].first = "cluster";
  entries[0].second = std::move(big);
  store.PublishAll(std::move(entries));
  bool found = false;
  auto after = store.Shared();
  for (const auto& p : after->parts) found = found || p->data() == big_data;
  CHECK(found);
}
