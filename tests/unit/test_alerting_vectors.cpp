// The scenario vectors of tests/alerting/vectors (promtool rule-test cases,
// run through promtool by tests/alerting/promtool_vectors.py) run through the
// built-in evaluator: the same firing alerts, labels and annotations at each
// eval_time.
#include <yaml-cpp/yaml.h>
#include <catch2/catch.hpp>

#include <dirent.h>

#include <algorithm>
#include <regex>

#include "alerting/evaluator.h"
#include "metrics/catalogue.h"
#include "util/duration.h"

using namespace dora;
using namespace dora::alerting;

namespace {

struct Series {
  std::string family;
  Labels labels;
  std::vector<std::optional<double>> values;  // per interval step
};

// promtool's expanding notation: "a", "axn", "a+bxn", "a-bxn", "_".
std::vector<std::optional<double>> Expand(const std::string& text) {
  std::vector<std::optional<double>> out;
  std::istringstream in(text);
  const std::regex step(R"(^(-?[0-9.e]+)([+-][0-9.e]+)?x([0-9]+)$)");
  for (std::string tok; in >> tok;) {
    std::smatch m;
    if (tok == "_") {
      out.emplace_back();
    } else if (std::regex_match(tok, m, step)) {
      const double a = std::stod(m[1]);
      const double b = m[2].matched ? std::stod(m[2]) : 0;
      for (int i = 0; i <= std::stoi(m[3]); ++i) out.emplace_back(a + b * i);
    } else {
      out.emplace_back(std::stod(tok));
    }
  }
  return out;
}

Series ParseSeries(const std::string& selector, const std::string& values) {
  Series s;
  const size_t brace = selector.find('{');
  s.family = selector.substr(0, brace);
  if (brace != std::string::npos) {
    const std::regex label(R"re(([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)")re");
    const std::string body = selector.substr(brace);
    for (std::sregex_iterator it(body.begin(), body.end(), label), end; it != end; ++it)
      s.labels[(*it)[1]] = (*it)[2];
  }
  s.values = Expand(values);
  return s;
}

using AlertKey = std::pair<Labels, Labels>;  // labels, annotations

std::vector<std::string> VectorFiles() {
  const std::string dir = std::string(DORA_SOURCE_DIR) + "/tests/alerting/vectors";
  std::vector<std::string> out;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      const std::string name = e->d_name;
      if (name.size() > 5 && name.substr(name.size() - 5) == ".yaml") out.push_back(dir + "/" + name);
    }
    closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("the scenario vectors give the same firing alerts in the evaluator as in promtool", "[alerting]") {
  const auto files = VectorFiles();
  REQUIRE(files.size() >= 4);
  size_t checked = 0;
  for (const std::string& file : files) {
    INFO(file);
    const YAML::Node v = YAML::LoadFile(file);
    const Millis interval = *ParseDuration(v["interval"].as<std::string>());
    std::vector<Series> series;
    for (const auto& s : v["input_series"])
      series.push_back(ParseSeries(s["series"].as<std::string>(), s["values"].as<std::string>()));
    // Expected firing alerts by eval time and alertname.
    std::map<std::pair<int64_t, std::string>, std::set<AlertKey>> expected;
    int64_t last = 0;
    for (const auto& t : v["alert_rule_test"]) {
      const int64_t at = ParseDuration(t["eval_time"].as<std::string>())->count();
      auto& want = expected[{at, t["alertname"].as<std::string>()}];
      for (const auto& a : t["exp_alerts"]) {
        Labels labels, annotations;
        for (const auto& kv : a["exp_labels"])
          labels[kv.first.as<std::string>()] = kv.second.as<std::string>();
        labels["alertname"] = t["alertname"].as<std::string>();
        for (const auto& kv : a["exp_annotations"])
          annotations[kv.first.as<std::string>()] = kv.second.as<std::string>();
        want.insert({labels, annotations});
      }
      last = std::max(last, at);
    }
    // promtool evaluates every evaluation_interval (1m) from 0; here every
    // collector publishes its series' values at each step.
    // At promtool's clock: its time() is 0 at the first step.
    SysTime now = SysTime{};
    const SysTime start = now;
    Evaluator eval(AlertingConfig{}, nullptr, [&] { return now; });
    for (int64_t t = 0; t <= last; t += 60000) {
      now = start + Millis(t);
      std::map<std::string, RunInputs> runs;
      for (const Series& s : series) {
        const size_t step = static_cast<size_t>(t / interval.count());
        const std::string collector(metrics::kCatalogue[metrics::IndexOf(s.family)].collector);
        RunInputs& run = runs[collector];
        run.collector = collector;
        run.published = run.success = true;
        auto& samples = run.samples[s.family];
        if (step < s.values.size() && s.values[step]) samples.push_back({s.labels, *s.values[step]});
      }
      for (auto& [collector, run] : runs) eval.OnRun(std::move(run));
      for (const auto& [key, want] : expected) {
        if (key.first != t) continue;
        INFO("eval_time " << t / 60000 << "m, " << key.second);
        std::set<AlertKey> got;
        for (const Alert& a : eval.Current()->alerts)
          if (a.name() == key.second && a.state == AlertState::kFiring) got.insert({a.labels, a.annotations});
        CHECK(got == want);
        ++checked;
      }
    }
  }
  CHECK(checked >= 15);
}
