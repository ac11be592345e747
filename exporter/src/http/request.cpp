#include "http/request.h"

#include <cctype>
#include <cstring>

namespace dora {
namespace {

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

// RFC 9110 token characters (method and header names).
bool IsTokenChar(char c) {
  if (std::isalnum(static_cast<unsigned char>(c))) return true;
  return std::strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != '\0';
}

bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!IsTokenChar(c)) return false;
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decodes a path; false for a bad escape or a decoded NUL.
bool DecodePath(std::string_view in, std::string* out) {
  out->clear();
  out->reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out->push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return false;
    int hi = HexValue(in[i + 1]), lo = HexValue(in[i + 2]);
    if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) return false;
    out->push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

// Next line of `buf` starting at `pos`, without its CRLF or LF. False if no
// line end yet. A CR not followed by LF is an error (*bad).
bool NextLine(std::string_view buf, size_t pos, std::string_view* line, size_t* next, bool* bad) {
  size_t lf = buf.find('\n', pos);
  if (lf == std::string_view::npos) return false;
  size_t end = lf;
  if (end > pos && buf[end - 1] == '\r') --end;
  *line = buf.substr(pos, end - pos);
  *next = lf + 1;
  if (line->find('\r') != std::string_view::npos) *bad = true;
  return true;
}

}  // namespace

const std::string& HttpRequest::Header(std::string_view name) const {
  static const std::string kEmpty;
  for (const auto& [n, v] : headers) {
    if (IEquals(n, name)) return v;
  }
  return kEmpty;
}

ParseOutcome ParseRequestHead(std::string_view buffer, size_t max_head, HttpRequest* request,
                              size_t* head_size, int* error_status) {
  auto fail = [error_status](int status) {
    *error_status = status;
    return ParseOutcome::kError;
  };
  size_t pos = 0;
  // Skip a bounded number of empty lines before the request line.
  for (int i = 0; i < 8 && pos < buffer.size() && (buffer[pos] == '\r' || buffer[pos] == '\n'); ++i) {
    if (buffer[pos] == '\r') {
      if (pos + 1 >= buffer.size()) return ParseOutcome::kIncomplete;
      if (buffer[pos + 1] != '\n') return fail(400);
      pos += 2;
    } else {
      pos += 1;
    }
  }
  std::string_view line;
  size_t next = 0;
  bool bad = false;
  if (!NextLine(buffer, pos, &line, &next, &bad)) {
    if (buffer.size() - pos > max_head) return fail(414);
    return ParseOutcome::kIncomplete;
  }
  if (next > max_head) return fail(414);
  if (bad) return fail(400);

  HttpRequest req;
  size_t sp1 = line.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) return fail(400);
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (!IsToken(method) || target.empty()) return fail(400);
  if (version == "HTTP/1.1") {
    req.minor_version = 1;
  } else if (version == "HTTP/1.0") {
    req.minor_version = 0;
  } else {
    return fail(version.rfind("HTTP/", 0) == 0 ? 505 : 400);
  }
  for (char c : target) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return fail(400);
  }
  req.method = std::string(method);
  req.target = std::string(target);
  if (target.front() != '/') return fail(400);  // origin-form only
  std::string_view raw_path = target.substr(0, target.find('?'));
  if (!DecodePath(raw_path, &req.path)) return fail(400);

  bool has_length = false;
  std::string connection;
  pos = next;
  for (int count = 0;; ++count) {
    if (!NextLine(buffer, pos, &line, &next, &bad)) {
      if (buffer.size() > max_head) return fail(431);
      return ParseOutcome::kIncomplete;
    }
    if (next > max_head) return fail(431);
    if (bad) return fail(400);
    pos = next;
    if (line.empty()) break;
    if (count >= 100) return fail(431);
    if (line.front() == ' ' || line.front() == '\t') return fail(400);  // obsolete folding
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return fail(400);
    std::string_view name = line.substr(0, colon);
    if (!IsToken(name)) return fail(400);  // also whitespace before the colon
    std::string_view value = Trim(line.substr(colon + 1));
    for (char c : value) {
      if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f) return fail(400);
    }
    if (IEquals(name, "Transfer-Encoding")) return fail(501);
    if (IEquals(name, "Content-Length")) {
      if (has_length || value.empty() || value.size() > 18 ||
          value.find_first_not_of("0123456789") != std::string_view::npos)
        return fail(400);
      has_length = true;
      req.content_length = std::stoull(std::string(value));
    }
    if (IEquals(name, "Connection")) connection += std::string(value) + ",";
    req.headers.emplace_back(std::string(name), std::string(value));
  }
  // Connection is a comma-separated list of options.
  bool close = false, keep = false;
  size_t start = 0;
  while (start < connection.size()) {
    size_t comma = connection.find(',', start);
    std::string_view option = Trim(std::string_view(connection).substr(start, comma - start));
    if (IEquals(option, "close")) close = true;
    if (IEquals(option, "keep-alive")) keep = true;
    start = comma + 1;
  }
  req.keep_alive = !close && (req.minor_version == 1 || keep);
  *request = std::move(req);
  *head_size = pos;
  return ParseOutcome::kComplete;
}

const char* StatusReason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "";
  }
}

void HttpResponse::SetHeader(const std::string& name, const std::string& value) {
  for (size_t i = headers.size(); i-- > 0;) {
    if (IEquals(headers[i].first, name)) headers.erase(headers.begin() + static_cast<std::ptrdiff_t>(i));
  }
  headers.emplace_back(name, value);
}

void HttpResponse::SetContent(std::string text, const std::string& content_type) {
  body = std::move(text);
  shared.reset();
  SetHeader("Content-Type", content_type);
}

std::string SerializeResponseHead(const HttpResponse& response, bool close, bool http10_keep_alive) {
  std::string head =
      "HTTP/1.1 " + std::to_string(response.status) + " " + StatusReason(response.status) + "\r\n";
  for (const auto& [name, value] : response.headers) {
    if (IEquals(name, "Content-Length") || IEquals(name, "Connection")) continue;
    head += name + ": " + value + "\r\n";
  }
  head += "Content-Length: " + std::to_string(response.BodySize()) + "\r\n";
  if (close) {
    head += "Connection: close\r\n";
  } else if (http10_keep_alive) {
    head += "Connection: keep-alive\r\n";
  }
  head += "\r\n";
  return head;
}

}  // namespace dora
