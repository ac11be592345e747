#pragma once
// FakeRegistry: an in-process Confluent Schema Registry REST API on 127.0.0.1
// (HTTP or HTTPS, on a port the kernel picks) with injectable failures, for the
// schema_registry collector's tests. Thread-safe: the test thread changes its
// behaviour while the server's own threads answer requests.
//
// TestCerts: a CA, a server certificate for 127.0.0.1/localhost and a client
// certificate signed by it, and an unrelated second CA, made with the openssl CLI.
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace httplib {
class Server;
}

namespace dora::test {

struct TestCerts {
  std::string dir;
  std::string ca_cert, ca_key;
  std::string server_cert, server_key;      // signed by ca; SAN IP:127.0.0.1, DNS:localhost
  std::string client_cert, client_key;      // signed by ca; for mutual TLS
  std::string other_ca_cert, other_ca_key;  // a CA that signed nothing here
  std::string error;                        // empty when every file was made
  bool ok() const { return error.empty(); }
};
// Makes TestCerts in a new directory under /tmp (bounded: each openssl call has a timeout).
TestCerts MakeTestCerts();
void RemoveTestCerts(const TestCerts& certs);

class FakeRegistry {
 public:
  enum class Failure {
    kNone,
    kHttp500,           // 500 with a JSON error body
    kUnauthorized,      // 401 with WWW-Authenticate, whatever the credentials
    kNotFound,          // 404
    kHang,              // no answer until the failure changes, Stop(), or hang_limit
    kTrickle,           // a 200 whose body comes one byte every 200 ms (never a read timeout)
    kMalformedJson,     // 200, JSON content type, body not JSON
    kWrongContentType,  // 200, text/html body (a proxy's login page)
    kHuge,              // 200, JSON content type, a 40 MiB JSON array
  };
  struct Options {
    bool tls = false;
    std::string cert_file, key_file;  // server certificate and key (tls)
    std::string client_ca_file;       // when set, clients must present a certificate signed by it
    std::string username, password;   // when username is set, basic auth is required (401 otherwise)
    std::string base_path;            // API served under this prefix, e.g. "/apis/ccompat/v7"
    std::chrono::milliseconds hang_limit{30000};
    int port = 0;  // 0: any free port
  };

  FakeRegistry();
  explicit FakeRegistry(Options options);
  ~FakeRegistry();  // Stop()
  FakeRegistry(const FakeRegistry&) = delete;
  FakeRegistry& operator=(const FakeRegistry&) = delete;

  bool running() const;
  int port() const { return port_; }
  // http(s)://127.0.0.1:<port><base_path>
  std::string url() const;

  // Applies `failure` to requests whose path (below base_path) starts with
  // `path_prefix` ("" for all); kNone heals everything (recovery).
  void SetFailure(Failure failure, const std::string& path_prefix = "");
  void SetSubject(const std::string& subject, int versions);  // versions 1..n
  void RemoveSubject(const std::string& subject);
  // A fixed JSON answer (200) for GET <path> (query ignored), checked before the
  // registry API: fakes other REST services such as Kafka Connect
  // (support/fake_connect.h). An empty body removes the route.
  void SetJson(const std::string& path, const std::string& body);
  void SetMode(const std::string& mode);
  void SetCompatibility(const std::string& level);
  // Schemas registered with POST /subjects/<subject>/versions, as (subject,
  // schema text), in order. Each new schema text gets an id from 100 up
  // (GET /schemas/ids/<id> answers it); the same text again, the same id.
  std::vector<std::pair<std::string, std::string>> Registered() const;
  // Requests seen whose path (below base_path) starts with `path_prefix`.
  int Requests(const std::string& path_prefix = "") const;
  void Stop();

 private:
  struct Reply;
  Reply Handle(const std::string& method, const std::string& path, const std::string& authorization,
               const std::string& body = "");
  Reply Register(const std::string& subject, const std::string& body);  // mu_ held
  bool WaitWhileHanging(const std::string& path);

  Options options_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = -1;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  Failure failure_ = Failure::kNone;
  std::string failure_prefix_;
  std::map<std::string, int> subjects_;
  std::map<std::string, std::string> routes_;
  std::string mode_ = "READWRITE";
  std::string compatibility_ = "BACKWARD";
  std::vector<std::string> seen_;
  std::map<std::string, int> schema_ids_;  // schema text -> id
  std::vector<std::pair<std::string, std::string>> registered_;
};

}  // namespace dora::test
