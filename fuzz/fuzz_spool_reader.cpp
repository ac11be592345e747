// Fuzzes the incident spool's record reader (ScanRecords, pure): whatever the
// bytes (a torn write, a flipped bit, another file), it never crashes, the
// records and skipped ranges it reports tile the input exactly, and every
// record re-encodes to the bytes it was read from.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "incidents/spool_record.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const dora::incidents::ScanResult r = dora::incidents::ScanRecords(in);
  uint64_t at = 0;
  size_t ri = 0, si = 0;
  while (ri < r.records.size() || si < r.skipped.size()) {
    if (ri < r.records.size() && r.records[ri].offset == at) {
      const auto& rec = r.records[ri++];
      if (dora::incidents::EncodeRecord(rec.key, rec.payload, rec.appended_ms) != in.substr(at, rec.size))
        __builtin_trap();
      at += rec.size;
    } else if (si < r.skipped.size() && r.skipped[si].offset == at && r.skipped[si].length > 0) {
      at += r.skipped[si++].length;
    } else {
      __builtin_trap();  // a gap or an overlap
    }
  }
  if (at != size) __builtin_trap();
  return 0;
}
