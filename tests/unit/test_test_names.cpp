// ctest's test list is a CMake list: a Catch test name with a semicolon is
// split into names that match no test, and each half fails (seen twice, in
// c535363 and c243c6d). ctest passes the name to the test binary as an
// argument, so a name that starts with "-" is read by Catch as an option and
// fails ("Unrecognised token", seen in a CI run). Every TEST_CASE name in
// tests/ is checked here.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

TEST_CASE("no test name holds a semicolon or starts with a dash", "[meta]") {
  namespace fs = std::filesystem;
  const std::regex name(R"re(TEST_CASE\(\s*"([^"]*)")re");
  int names = 0;
  for (const char* dir : {"/tests/unit", "/tests/integration"}) {
    for (const auto& entry : fs::directory_iterator(std::string(DORA_SOURCE_DIR) + dir)) {
      if (entry.path().extension() != ".cpp") continue;
      std::ifstream in(entry.path());
      std::stringstream text;
      text << in.rdbuf();
      const std::string s = text.str();
      for (auto it = std::sregex_iterator(s.begin(), s.end(), name); it != std::sregex_iterator(); ++it) {
        const std::string n = (*it)[1];
        INFO(entry.path().filename().string() << ": \"" << n << "\"");
        CHECK(n.find(';') == std::string::npos);
        CHECK((n.empty() || n[0] != '-'));
        ++names;
      }
    }
  }
  CHECK(names > 100);
}
