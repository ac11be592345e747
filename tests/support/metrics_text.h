#pragma once
// Parses Prometheus text exposition into series -> value for assertions.
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace dora::test {

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

std::vector<Sample> ParseExposition(const std::string& text);

// Value of the one sample matching name and (a subset of) labels, if exactly one matches.
std::optional<double> Find(const std::vector<Sample>& samples, const std::string& name,
                           const std::map<std::string, std::string>& labels = {});
// All samples of a name matching the label subset.
std::vector<Sample> FindAll(const std::vector<Sample>& samples, const std::string& name,
                            const std::map<std::string, std::string>& labels = {});

// Metric names docs/metrics.md lists in its tables (DORA_SOURCE_DIR based).
std::set<std::string> DocumentedMetrics();
// One row of a docs/metrics.md table: | `name` | type | labels | meaning | source |,
// under the `## ` heading `section`.
struct DocumentedFamily {
  std::string name;
  std::string type;
  std::string labels;
  std::string section;
  std::string source;
};
// The rows of every table in `markdown` (docs/metrics.md's text).
std::vector<DocumentedFamily> DocumentedFamilies(const std::string& markdown);
// Where `markdown` and the metric catalogue (metrics/catalogue.h) disagree,
// both ways: a family either lacks, or another type, labels, section (its
// collector) or source. Empty when they agree.
std::vector<std::string> DocsCatalogueMismatches(const std::string& markdown);
// Where an exposition disagrees with the catalogue: a family it lacks, another
// HELP or TYPE, a sample label it does not list (le is a histogram bucket's).
// Empty when they agree.
std::vector<std::string> ExpositionCatalogueMismatches(const std::string& text);
// The text of a file under DORA_SOURCE_DIR.
std::string ReadSourceFile(const std::string& relative_path);

// Family names from an exposition's # TYPE lines.
std::set<std::string> ExportedFamilies(const std::string& text);

// True when `text` is well-formed UTF-8 (what Prometheus requires of a
// scrape: one invalid label value fails the whole scrape).
bool IsValidUtf8(const std::string& text);

}  // namespace dora::test
