#pragma once
// One HTTP/1.x request head, parsed from the bytes a connection has received so
// far, and the response the endpoint sends back. Pure: no I/O, no threads.
//
// The parser is strict where leniency has been used for request smuggling
// (whitespace before a header colon, folded headers, two Content-Length
// values, Transfer-Encoding, which this endpoint has no use for) and accepts
// a bare LF as a line end, as RFC 9112 allows.
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "metrics/snapshot_store.h"

namespace dora {

struct HttpRequest {
  std::string method;  // as sent: methods are case-sensitive
  std::string target;  // the request target as sent
  std::string path;    // target up to '?', percent-decoded
  int minor_version = 1;
  std::vector<std::pair<std::string, std::string>> headers;  // in order, values trimmed
  bool keep_alive = true;     // HTTP/1.1 unless "Connection: close"; 1.0 only with keep-alive
  size_t content_length = 0;  // body bytes that follow the head
  std::string remote_addr;    // set by the server, not the parser

  // The first header of that name (case-insensitive), or "".
  const std::string& Header(std::string_view name) const;
};

enum class ParseOutcome {
  kIncomplete,  // need more bytes
  kComplete,    // *request filled, *head_size bytes of the buffer are its head
  kError,       // *error_status says why (400, 414, 431, 501)
};

// Parses the head at the start of `buffer`. `max_head` bounds the head (the
// request line and every header); a longer one is 431 (414 if the request line
// alone is longer). Empty lines before the request line are skipped, as RFC
// 9112 asks; they count toward *head_size.
ParseOutcome ParseRequestHead(std::string_view buffer, size_t max_head, HttpRequest* request,
                              size_t* head_size, int* error_status);

// The standard reason phrase of a status code ("OK", "Not Found"; "" if unknown).
const char* StatusReason(int status);

struct HttpResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;  // Content-Length is added when sent
  std::string body;                                          // unless `shared` is set
  std::shared_ptr<const ExpositionBody> shared;              // served in place, never copied

  // Replaces every header of that name (case-insensitive).
  void SetHeader(const std::string& name, const std::string& value);
  void SetContent(std::string text, const std::string& content_type);
  size_t BodySize() const { return shared ? shared->size : body.size(); }
};

// The status line and headers of `response`, with Content-Length and, when
// the connection closes after it, "Connection: close".
std::string SerializeResponseHead(const HttpResponse& response, bool close, bool http10_keep_alive);

}  // namespace dora
