// Fuzzes the __consumer_offsets record decoder (DecodeOffsetsTopicRecord,
// pure) and the table it feeds. The first byte splits the input into key and
// value; an odd second byte makes the value null (a tombstone).
#include <cstddef>
#include <cstdint>

#include "kafka/offsets_topic.h"
#include "kafka/offsets_topic_record.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t split = data[0] % (size - 1);
  const bool null_value = (data[1] & 1) != 0;
  const uint8_t* rest = data + 2;
  const size_t n = size - 2;
  const size_t key_len = split < n ? split : n;
  auto r = dora::DecodeOffsetsTopicRecord(rest, key_len, null_value ? nullptr : rest + key_len, n - key_len);
  dora::CommittedOffsetsTable table;
  table.Apply(r);
  (void)table.Committed({r.group});
  (void)dora::OffsetsRecordKindName(r.kind, r.tombstone);
  return 0;
}
