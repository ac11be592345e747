// dora-kafka-exporter: flags -> config -> App; nothing else.
#include <malloc.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "app/app.h"
#include "config/loader.h"
#include "kafka/library_version.h"
#include "util/fd_limit.h"
#include "util/log.h"
#include "version.h"

int main(int argc, char** argv) {
  // Two malloc arenas unless MALLOC_ARENA_MAX says otherwise: glibc's default
  // (8 per core) let the HTTP and collector threads fragment the heap; at
  // 20,000 partitions two took ~80 MB off the peak at no CPU cost measured
  // (docs/benchmarks.md). Set before any thread exists.
  if (std::getenv("MALLOC_ARENA_MAX") == nullptr) mallopt(M_ARENA_MAX, 2);
  // Blocks of 1 MB and more (the collectors' family texts, reserved once per
  // run) straight from mmap unless MALLOC_MMAP_THRESHOLD_ says otherwise: a
  // freed text goes back to the system instead of leaving a hole in the heap
  // (glibc's adaptive threshold climbs to 32 MB after the first large free).
  // At 20,000 partitions, granularity topic: peak RSS 218 -> 197 MB, CPU
  // within noise (docs/benchmarks.md).
  if (std::getenv("MALLOC_MMAP_THRESHOLD_") == nullptr) mallopt(M_MMAP_THRESHOLD, 1 << 20);
  dora::App::BlockSignals();  // before any thread exists, librdkafka's included
  // Soft open-file limit up to the hard one: web.max_connections (1,024 by
  // default) plus Kafka's sockets do not fit the common default of 1,024.
  dora::RaiseOpenFileLimit();
  auto flags = dora::ParseFlags(argc, argv);
  if (!flags.ok()) {
    std::fprintf(stderr, "dora-kafka-exporter: %s\n", flags.status().message.c_str());
    return 2;
  }
  if (flags->help) {
    std::cout << dora::UsageText();
    return 0;
  }
  if (flags->version) {
    std::cout << "dora-kafka-exporter " << dora::kVersion << " (revision " << dora::kRevision
              << ", librdkafka " << dora::KafkaLibraryVersion() << ")\n";
    return 0;
  }
  dora::ConfigErrors errors;
  dora::Config config = dora::LoadEffectiveConfig(flags.value(), &errors);
  if (!errors.empty()) {
    for (const auto& e : errors.errors) std::fprintf(stderr, "%s\n", e.c_str());
    std::fprintf(stderr, "dora-kafka-exporter: invalid configuration (%zu error%s)\n", errors.errors.size(),
                 errors.errors.size() == 1 ? "" : "s");
    return 2;
  }
  if (flags->check_config) {
    std::printf("configuration OK%s%s\n", config.source_file.empty() ? "" : ": ", config.source_file.c_str());
    return 0;
  }
  dora::SetupLogging(config.log.level, config.log.format);
  dora::App app(config, flags.value());
  if (flags->once) {
    std::string text;
    int rc = app.RunOnce(&text);
    std::fwrite(text.data(), 1, text.size(), stdout);
    return rc;
  }
  return app.Run();
}
