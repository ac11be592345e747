#include "collectors/runner.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "util/log.h"

namespace dora {

void StartTap(MetricsBuilder& builder, const alerting::InputSink& sink) {
  builder.Tap(&sink.TappedFamilies(), sink.Reductions());
}

void HandOver(MetricsBuilder& builder, alerting::RunInputs* run) { run->tapped = builder.TakeTapped(); }

CollectorRunner::CollectorRunner(std::vector<std::unique_ptr<Collector>> collectors, SnapshotStore* store,
                                 SelfMetrics* self, RetryConfig retry)
    : store_(store), self_(self), retry_(retry) {
  for (auto& c : collectors) {
    auto slot = std::make_unique<Slot>();
    self_->Declare(c->name());
    slot->collector = std::move(c);
    slots_.push_back(std::move(slot));
  }
  self_->PublishTo(store_);  // success 0 for every collector until its first run
}

CollectorRunner::~CollectorRunner() { Stop(); }

Millis CollectorRunner::Backoff(const RetryConfig& retry, Millis interval, int failures) {
  int64_t ms = retry.initial_backoff.count();
  for (int i = 1; i < failures && ms < retry.max_backoff.count(); ++i) ms *= 2;
  ms = std::min<int64_t>(ms, retry.max_backoff.count());
  // A failing collector never waits longer than a healthy one would.
  ms = std::min<int64_t>(ms, std::max<int64_t>(interval.count(), retry.initial_backoff.count()));
  return Millis(ms);
}

bool CollectorRunner::RunOne(Slot& slot) {
  Collector& c = *slot.collector;
  auto log = GetLogger("collector." + c.name());
  CollectContext ctx;
  auto start = std::chrono::steady_clock::now();
  ctx.deadline = start + c.timeout();
  ctx.wall_now = std::chrono::system_clock::now();
  MetricsBuilder builder;
  if (sink_ != nullptr) StartTap(builder, *sink_);
  Status status;
  try {
    status = c.Collect(ctx, builder);
  } catch (const std::exception& ex) {
    status = Status::Error(Reason::kInternal, std::string("unexpected exception: ") + ex.what());
  } catch (...) {
    status = Status::Error(Reason::kInternal, "unexpected exception");
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // A run that finished late has complete data: publish it, but report the timeout.
  bool publish = status.ok || status.partial;
  if (status.ok && ctx.expired()) {
    status = Status::Error(Reason::kTimeout, "run took " + std::to_string(seconds) +
                                                 "s, over its timeout of " + FormatDuration(c.timeout()));
  }
  if (publish && builder.keep_published() && !slot.published) {
    // A collector may keep only a text that is being served (Collector::Collect).
    status = Status::Error(Reason::kInternal, "kept a text that is not being served");
    publish = false;
  }
  if (builder.duplicates_dropped() > 0) {
    log->debug("dropped {} duplicate series", builder.duplicates_dropped());
  }
  self_->RecordRun(c.name(), status, seconds);
  // No stale data presented as fresh: a failed run's series go until it recovers.
  // Built by emplace: an initializer list would copy the texts.
  // A run that kept its published text publishes its live series and the
  // self metrics alone.
  const bool keep = publish && builder.keep_published();
  std::vector<std::pair<std::string, std::vector<std::string>>> entries;
  entries.reserve(3);
  if (!keep) {
    entries.emplace_back();
    entries.back().first = c.name();
    if (publish) entries.back().second = builder.TakeParts();
  }
  std::vector<std::string> live;
  if (publish) live = builder.TakeLiveParts();
  const bool has_live = !live.empty();
  if (has_live || slot.live) {  // an empty entry clears the last run's
    entries.emplace_back();
    entries.back().first = c.name() + kLiveSuffix;
    entries.back().second = std::move(live);
  }
  self_->PublishTo(store_, std::move(entries));
  if (sink_ != nullptr) {
    // After the publish: the evaluator sees what a scrape now sees. A failed
    // run hands over no samples (published false): its alerts keep their state.
    alerting::RunInputs run;
    run.collector = c.name();
    run.published = publish && !keep;
    run.kept = keep;
    run.success = status.ok;
    if (run.published) HandOver(builder, &run);
    sink_->OnRun(std::move(run));
  }
  slot.published = publish;
  slot.live = has_live;
  if (status.ok) {
    if (slot.failing) log->info("recovered after {} failed run(s)", slot.failures);
    slot.failing = false;
    slot.failures = 0;
  } else {
    ++slot.failures;
    if (!slot.failing) {
      log->warn("collection failed ({}{}): {}", status.reason_name(), status.partial ? ", partial" : "",
                status.message);
    } else {
      log->debug("collection still failing ({}{}): {}", status.reason_name(),
                 status.partial ? ", partial" : "", status.message);
    }
    slot.failing = true;
  }
  slot.ran_once.store(true);
  return status.ok;
}

void CollectorRunner::Loop(Slot& slot) {
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
    }
    bool ok = false;
    try {
      ok = RunOne(slot);
    } catch (const std::exception& ex) {  // never across the thread entry: retried with backoff
      GetLogger("collector." + slot.collector->name())->error("run failed: {}", ex.what());
      ++slot.failures;
    } catch (...) {
      GetLogger("collector." + slot.collector->name())->error("run failed: unknown exception");
      ++slot.failures;
    }
    Millis delay =
        ok ? slot.collector->interval() : Backoff(retry_, slot.collector->interval(), slot.failures);
    std::unique_lock<std::mutex> lock(mu_);
    if (cv_.wait_for(lock, delay, [&] { return stopping_; })) return;
  }
}

Status CollectorRunner::Start() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (started_) return Status::Ok();
    started_ = true;
    stopping_ = false;
    try {
      for (auto& s : slots_) {
        Slot* slot = s.get();
        slot->thread = std::thread([this, slot] { Loop(*slot); });
      }
      return Status::Ok();
    } catch (const std::exception& ex) {
      GetLogger("runner")->error("cannot start the collector threads: {}", ex.what());
    }
  }
  Stop();  // joins the threads that did start
  return Status::Error(Reason::kInternal, "cannot start the collector threads");
}

void CollectorRunner::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!started_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& s : slots_) {
    if (s->thread.joinable()) s->thread.join();
  }
  std::lock_guard<std::mutex> lock(mu_);
  started_ = false;
}

bool CollectorRunner::RunOnce() {
  std::vector<std::thread> threads;
  std::vector<char> results(slots_.size(), 0);
  auto run = [this, &results](size_t i) {
    try {
      // A collector still catching up (Collector::Ready) gets up to its
      // timeout to finish first: a one-shot run reads what a daemon would.
      const auto until = std::chrono::steady_clock::now() + slots_[i]->collector->timeout();
      while (!slots_[i]->collector->Ready() && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      results[i] = RunOne(*slots_[i]) ? 1 : 0;
    } catch (const std::exception& ex) {
      GetLogger("collector." + slots_[i]->collector->name())->error("run failed: {}", ex.what());
    }
  };
  for (size_t i = 0; i < slots_.size(); ++i) {
    try {
      threads.emplace_back(run, i);
    } catch (const std::exception&) {  // no thread to be had: run it on this one
      run(i);
    }
  }
  for (auto& t : threads) t.join();
  return std::all_of(results.begin(), results.end(), [](char r) { return r != 0; });
}

bool CollectorRunner::AllRanOnce() const {
  return std::all_of(slots_.begin(), slots_.end(),
                     [](const auto& s) { return s->ran_once.load() && s->collector->Ready(); });
}

std::vector<std::string> CollectorRunner::names() const {
  std::vector<std::string> out;
  for (const auto& s : slots_) out.push_back(s->collector->name());
  return out;
}

}  // namespace dora
