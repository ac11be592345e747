#include "support/fake_registry.h"

#include <httplib.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

namespace dora::test {
namespace {

std::string Base64(const std::string& in) {
  static const char* kChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                 static_cast<unsigned char>(in[i + 2]);
    out += kChars[(v >> 18) & 63];
    out += kChars[(v >> 12) & 63];
    out += kChars[(v >> 6) & 63];
    out += kChars[v & 63];
  }
  if (i + 1 == in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    out += kChars[(v >> 18) & 63];
    out += kChars[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += kChars[(v >> 18) & 63];
    out += kChars[(v >> 12) & 63];
    out += kChars[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

constexpr const char* kJsonType = "application/vnd.schemaregistry.v1+json";

std::string ErrorBody(int code, const std::string& message) {
  return nlohmann::json{{"error_code", code}, {"message", message}}.dump();
}

bool StartsWith(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

}  // namespace

// ---- certificates ----

TestCerts MakeTestCerts() {
  TestCerts c;
  char tmpl[] = "/tmp/dora-sr-certs-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) {
    c.error = "mkdtemp failed";
    return c;
  }
  c.dir = tmpl;
  auto p = [&](const std::string& f) { return c.dir + "/" + f; };
  c.ca_cert = p("ca.pem");
  c.ca_key = p("ca.key");
  c.server_cert = p("server.pem");
  c.server_key = p("server.key");
  c.client_cert = p("client.pem");
  c.client_key = p("client.key");
  c.other_ca_cert = p("other-ca.pem");
  c.other_ca_key = p("other-ca.key");
  std::ofstream(p("server.ext")) << "basicConstraints=CA:FALSE\n"
                                    "keyUsage=digitalSignature,keyEncipherment\n"
                                    "extendedKeyUsage=serverAuth\n"
                                    "subjectAltName=IP:127.0.0.1,DNS:localhost\n";
  std::ofstream(p("client.ext")) << "basicConstraints=CA:FALSE\n"
                                    "keyUsage=digitalSignature,keyEncipherment\n"
                                    "extendedKeyUsage=clientAuth\n";
  const std::string key = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
  const std::string log = " >>" + p("openssl.log") + " 2>&1";
  const std::vector<std::string> commands = {
      "openssl req -x509" + key + " -keyout " + c.ca_key + " -out " + c.ca_cert +
          " -days 2 -subj '/CN=dora test CA'",
      "openssl req -x509" + key + " -keyout " + c.other_ca_key + " -out " + c.other_ca_cert +
          " -days 2 -subj '/CN=dora unrelated CA'",
      "openssl req" + key + " -keyout " + c.server_key + " -out " + p("server.csr") +
          " -subj '/CN=127.0.0.1'",
      "openssl x509 -req -in " + p("server.csr") + " -CA " + c.ca_cert + " -CAkey " + c.ca_key +
          " -CAcreateserial -days 2 -extfile " + p("server.ext") + " -out " + c.server_cert,
      "openssl req" + key + " -keyout " + c.client_key + " -out " + p("client.csr") +
          " -subj '/CN=dora-exporter'",
      "openssl x509 -req -in " + p("client.csr") + " -CA " + c.ca_cert + " -CAkey " + c.ca_key +
          " -CAcreateserial -days 2 -extfile " + p("client.ext") + " -out " + c.client_cert,
  };
  for (const auto& cmd : commands) {
    if (std::system(("timeout 30 " + cmd + log).c_str()) != 0) {
      std::ifstream in(p("openssl.log"));
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      c.error = "failed: " + cmd + "\n" + text;
      return c;
    }
  }
  return c;
}

void RemoveTestCerts(const TestCerts& certs) {
  if (certs.dir.rfind("/tmp/dora-sr-certs-", 0) == 0) {
    std::system(("rm -rf '" + certs.dir + "'").c_str());
  }
}

// ---- server ----

struct FakeRegistry::Reply {
  int status = 200;
  std::string type = kJsonType;
  std::string body;
  bool trickle = false;
  std::vector<std::pair<std::string, std::string>> headers;
};

FakeRegistry::FakeRegistry() : FakeRegistry(Options{}) {}

FakeRegistry::FakeRegistry(Options options) : options_(std::move(options)) {
  if (options_.tls) {
    server_ = std::make_unique<httplib::SSLServer>(
        options_.cert_file.c_str(), options_.key_file.c_str(),
        options_.client_ca_file.empty() ? nullptr : options_.client_ca_file.c_str());
  } else {
    server_ = std::make_unique<httplib::Server>();
  }
  if (!server_->is_valid()) return;
  server_->set_keep_alive_timeout(1);  // bounds Stop() with idle keep-alive connections
  server_->set_tcp_nodelay(true);      // headers and body go out in separate writes
  server_->new_task_queue = [] { return new httplib::ThreadPool(24); };
  auto handler = [this](const httplib::Request& req, httplib::Response& res) {
    Reply r = Handle(req.method, req.path, req.get_header_value("Authorization"), req.body);
    res.status = r.status;
    for (const auto& [k, v] : r.headers) res.set_header(k, v);
    if (!r.trickle) {
      res.set_content(r.body, r.type.c_str());
      return;
    }
    auto body = std::make_shared<std::string>(r.body);
    res.set_chunked_content_provider(r.type.c_str(), [this, body](size_t offset, httplib::DataSink& sink) {
      if (offset >= body->size()) {
        sink.done();
        return true;
      }
      {
        std::unique_lock<std::mutex> lock(mu_);
        if (cv_.wait_for(lock, std::chrono::milliseconds(200), [this] { return stopping_; })) return false;
      }
      sink.write(body->data() + offset, 1);
      return true;
    });
  };
  server_->Get(".*", handler);
  server_->Post(".*", handler);
  port_ = options_.port == 0 ? server_->bind_to_any_port("127.0.0.1")
                             : (server_->bind_to_port("127.0.0.1", options_.port) ? options_.port : -1);
  if (port_ <= 0) return;
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  for (int i = 0; i < 500 && !server_->is_running(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

FakeRegistry::~FakeRegistry() { Stop(); }

bool FakeRegistry::running() const { return server_ && server_->is_running(); }

std::string FakeRegistry::url() const {
  return std::string(options_.tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_) +
         options_.base_path;
}

void FakeRegistry::SetFailure(Failure failure, const std::string& path_prefix) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    failure_ = failure;
    failure_prefix_ = path_prefix;
  }
  cv_.notify_all();
}

void FakeRegistry::SetSubject(const std::string& subject, int versions) {
  std::lock_guard<std::mutex> lock(mu_);
  subjects_[subject] = versions;
}

void FakeRegistry::RemoveSubject(const std::string& subject) {
  std::lock_guard<std::mutex> lock(mu_);
  subjects_.erase(subject);
}

void FakeRegistry::SetJson(const std::string& path, const std::string& body) {
  std::lock_guard<std::mutex> lock(mu_);
  if (body.empty()) {
    routes_.erase(path);
  } else {
    routes_[path] = body;
  }
}

void FakeRegistry::SetMode(const std::string& mode) {
  std::lock_guard<std::mutex> lock(mu_);
  mode_ = mode;
}

void FakeRegistry::SetCompatibility(const std::string& level) {
  std::lock_guard<std::mutex> lock(mu_);
  compatibility_ = level;
}

int FakeRegistry::Requests(const std::string& path_prefix) const {
  std::lock_guard<std::mutex> lock(mu_);
  int n = 0;
  for (const auto& p : seen_) n += StartsWith(p, path_prefix) ? 1 : 0;
  return n;
}

void FakeRegistry::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

// Returns false when the hang ended because of Stop() or the hang limit.
bool FakeRegistry::WaitWhileHanging(const std::string& path) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, options_.hang_limit, [&] {
    return stopping_ || failure_ != Failure::kHang || !StartsWith(path, failure_prefix_);
  }) && !stopping_;
}

std::vector<std::pair<std::string, std::string>> FakeRegistry::Registered() const {
  std::lock_guard<std::mutex> lock(mu_);
  return registered_;
}

FakeRegistry::Reply FakeRegistry::Register(const std::string& subject, const std::string& body) {
  Reply r;
  const nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_object() || !j.contains("schema") || !j["schema"].is_string()) {
    r.status = 422;
    r.body = ErrorBody(42201, "Invalid schema");
    return r;
  }
  const std::string schema = j["schema"].get<std::string>();
  auto it = schema_ids_.find(schema);
  if (it == schema_ids_.end())
    it = schema_ids_.emplace(schema, 100 + static_cast<int>(schema_ids_.size())).first;
  registered_.emplace_back(subject, schema);
  subjects_[subject] = std::max(subjects_[subject], 1);
  r.body = nlohmann::json{{"id", it->second}}.dump();
  return r;
}

FakeRegistry::Reply FakeRegistry::Handle(const std::string& method, const std::string& full_path,
                                         const std::string& authorization, const std::string& body) {
  Reply r;
  if (!StartsWith(full_path, options_.base_path)) {
    r.status = 404;
    r.body = ErrorBody(404, "HTTP 404 Not Found");
    return r;
  }
  std::string path = full_path.substr(options_.base_path.size());
  if (path.empty()) path = "/";
  Failure failure;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (seen_.size() < 100000) seen_.push_back(path);
    failure = StartsWith(path, failure_prefix_) ? failure_ : Failure::kNone;
  }
  if (!options_.username.empty() &&
      authorization != "Basic " + Base64(options_.username + ":" + options_.password)) {
    failure = Failure::kUnauthorized;
  }
  switch (failure) {
    case Failure::kNone:
    case Failure::kTrickle:
      break;
    case Failure::kHttp500:
      r.status = 500;
      r.body = ErrorBody(50001, "Error in the backend data store");
      return r;
    case Failure::kUnauthorized:
      r.status = 401;
      r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"SchemaRegistry\"");
      r.body = ErrorBody(401, "Unauthorized");
      return r;
    case Failure::kNotFound:
      r.status = 404;
      r.body = ErrorBody(404, "HTTP 404 Not Found");
      return r;
    case Failure::kHang:
      if (!WaitWhileHanging(path)) {
        r.status = 503;
        r.body = ErrorBody(50003, "hang ended");
        return r;
      }
      return Handle(method, full_path, authorization, body);  // healed while hanging: answer normally
    case Failure::kMalformedJson:
      r.body = "[\"orders-value\", \"payments-val";
      return r;
    case Failure::kWrongContentType:
      r.type = "text/html";
      r.body = "<html><body>Please log in</body></html>";
      return r;
    case Failure::kHuge: {
      // 2 million subject names of 18 bytes each, then the closing bracket.
      const std::string item = "\"subject-000000-v\",";
      r.body.reserve(item.size() * 2000000 + 2);
      r.body = "[";
      for (int i = 0; i < 2000000; ++i) r.body += item;
      r.body.back() = ']';
      return r;
    }
  }
  r.trickle = failure == Failure::kTrickle;

  std::lock_guard<std::mutex> lock(mu_);
  const std::string kSubjects = "/subjects";
  const std::string kVersions = "/versions";
  if (method == "POST" && StartsWith(path, kSubjects + "/") &&
      path.size() > kSubjects.size() + kVersions.size() + 1 &&
      path.compare(path.size() - kVersions.size(), kVersions.size(), kVersions) == 0) {
    return Register(path.substr(kSubjects.size() + 1, path.size() - kSubjects.size() - 1 - kVersions.size()),
                    body);
  }
  if (method != "GET") {
    r.status = 405;
    r.body = ErrorBody(405, "HTTP 405 Method Not Allowed");
  } else if (auto route = routes_.find(path); route != routes_.end()) {
    r.type = "application/json";
    r.body = route->second;
  } else if (path == "/") {
    r.body = "{}";
  } else if (path == kSubjects) {
    nlohmann::json names = nlohmann::json::array();
    for (const auto& [s, n] : subjects_) names.push_back(s);
    r.body = names.dump();
  } else if (StartsWith(path, kSubjects + "/")) {
    // /subjects/<subject>/versions[/<version>]; the subject may itself hold '/'.
    std::string rest = path.substr(kSubjects.size() + 1);
    std::string version;
    auto v = rest.rfind("/versions");
    if (v != std::string::npos && v + 9 < rest.size() && rest[v + 9] == '/') {
      version = rest.substr(v + 10);
      rest.resize(v);
    } else if (v != std::string::npos && v + 9 == rest.size()) {
      rest.resize(v);
    } else {
      r.status = 404;
      r.body = ErrorBody(404, "HTTP 404 Not Found");
      return r;
    }
    auto it = subjects_.find(rest);
    if (it == subjects_.end()) {
      r.status = 404;
      r.body = ErrorBody(40401, "Subject '" + rest + "' not found.");
    } else if (version.empty()) {
      nlohmann::json versions = nlohmann::json::array();
      for (int i = 1; i <= it->second; ++i) versions.push_back(i);
      r.body = versions.dump();
    } else {
      int n = version == "latest" ? it->second : std::atoi(version.c_str());
      if (n < 1 || n > it->second) {
        r.status = 404;
        r.body = ErrorBody(40402, "Version " + version + " not found.");
      } else {
        r.body =
            nlohmann::json{{"subject", rest}, {"version", n}, {"id", n}, {"schema", "\"string\""}}.dump();
      }
    }
  } else if (path == "/mode") {
    r.body = nlohmann::json{{"mode", mode_}}.dump();
  } else if (path == "/config") {
    r.body = nlohmann::json{{"compatibilityLevel", compatibility_}}.dump();
  } else if (path == "/schemas") {
    nlohmann::json all = nlohmann::json::array();
    int id = 0;
    for (const auto& [s, n] : subjects_) {
      for (int i = 1; i <= n; ++i) {
        all.push_back({{"subject", s}, {"version", i}, {"id", ++id}, {"schema", "\"string\""}});
      }
    }
    r.body = all.dump();
  } else if (StartsWith(path, "/schemas/ids/")) {
    std::string schema = "\"string\"";
    const int id = std::atoi(path.substr(13).c_str());
    for (const auto& entry : schema_ids_)
      if (entry.second == id) schema = entry.first;
    r.body = nlohmann::json{{"schema", schema}}.dump();
  } else {
    r.status = 404;
    r.body = ErrorBody(404, "HTTP 404 Not Found");
  }
  return r;
}

}  // namespace dora::test
