#pragma once
// The Alertmanager notifier's metrics (alerting/notifier.h), kept in the self
// metrics' registry (metrics/self_metrics.h) so they render with them:
// per Alertmanager, alerts sent, failed and dropped, the queue length and
// the send latency; and the daemon's alerts by state. Thread-safe. Created
// once per process (a registry holds a family once); notifiers built on a
// reload share it.
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <string>

#include "alerting/alert.h"

namespace dora::alerting {

class NotifierMetrics {
 public:
  explicit NotifierMetrics(prometheus::Registry& registry);
  // Makes the series of `alertmanager` exist (at 0) before its first send.
  void Declare(const std::string& alertmanager);
  prometheus::Counter& sent(const std::string& alertmanager);
  prometheus::Counter& failed(const std::string& alertmanager);
  prometheus::Counter& dropped(const std::string& alertmanager);
  prometheus::Gauge& queue_length(const std::string& alertmanager);
  prometheus::Histogram& latency(const std::string& alertmanager);
  // kafka_exporter_alerts{state} from a snapshot.
  void RecordStates(const AlertsSnapshot& snapshot);

 private:
  prometheus::Family<prometheus::Counter>* sent_;
  prometheus::Family<prometheus::Counter>* failed_;
  prometheus::Family<prometheus::Counter>* dropped_;
  prometheus::Family<prometheus::Gauge>* queue_length_;
  prometheus::Family<prometheus::Histogram>* latency_;
  prometheus::Family<prometheus::Gauge>* alerts_;
};

}  // namespace dora::alerting
