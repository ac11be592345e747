#pragma once
// A collector run for its side effects only: QuietCollector runs the wrapped
// collector into a builder of its own and publishes nothing, so neither the
// exposition nor the alert evaluator sees its series. A sharded daemon other
// than shard 0 runs the cluster collector this way: its metadata and topic
// configs still feed the watermarks and the consumer groups' retention ratio,
// while the cluster series come from shard 0 alone (docs/deployment.md).
#include <memory>
#include <string>

#include "collectors/collector.h"

namespace dora {

class QuietCollector : public Collector {
 public:
  explicit QuietCollector(std::unique_ptr<Collector> inner) : inner_(std::move(inner)) {}
  std::string name() const override { return inner_->name(); }
  Millis interval() const override { return inner_->interval(); }
  Millis timeout() const override { return inner_->timeout(); }
  bool Ready() const override { return inner_->Ready(); }
  Status Collect(const CollectContext& ctx, MetricsBuilder&) override {
    MetricsBuilder discarded;
    return inner_->Collect(ctx, discarded);
  }

 private:
  std::unique_ptr<Collector> inner_;
};

}  // namespace dora
