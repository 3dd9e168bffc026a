// lamina's C++ function SDK: a header-only, source-compatible stand-in for AWS's aws-lambda-cpp
// (`#include <aws/lambda-runtime/runtime.h>`, `aws::lambda_runtime::run_handler`,
// `invocation_request`, `invocation_response::success/failure`), so an existing C++ Lambda function
// compiles against it unchanged — with nothing but the C++ standard library and POSIX sockets (no
// libcurl). It speaks the Runtime API (2018-06-01) over one keep-alive HTTP/1.1 connection to
// $AWS_LAMBDA_RUNTIME_API, reconnecting when the server closes it.
//
// Single-threaded: run_handler() owns the calling thread for the life of the process.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <utility>

namespace aws {
namespace lambda_runtime {

struct invocation_request {
  std::string payload;           // the event, as the invoker sent it
  std::string request_id;        // Lambda-Runtime-Aws-Request-Id
  std::string xray_trace_id;     // Lambda-Runtime-Trace-Id (also exported as _X_AMZN_TRACE_ID)
  std::string client_context;    // Lambda-Runtime-Client-Context (JSON), when invoked with one
  std::string cognito_identity;  // Lambda-Runtime-Cognito-Identity (JSON), when present
  std::string function_arn;      // Lambda-Runtime-Invoked-Function-Arn (qualified as invoked)
  std::chrono::time_point<std::chrono::system_clock> deadline;  // Lambda-Runtime-Deadline-Ms

  std::chrono::milliseconds get_time_remaining() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::system_clock::now());
  }
};

class invocation_response {
 public:
  // A response with full control of the body (e.g. an error document with a stack trace).
  invocation_response(std::string payload, std::string content_type, bool success)
      : m_payload(std::move(payload)), m_content_type(std::move(content_type)), m_success(success) {}

  static invocation_response success(std::string const& payload, std::string const& content_type) {
    return invocation_response(payload, content_type, true);
  }
  // The body is {"errorMessage":..., "errorType":..., "stackTrace":[]}; content type application/json.
  static invocation_response failure(std::string const& error_message, std::string const& error_type);

  std::string const& get_payload() const { return m_payload; }
  std::string const& get_content_type() const { return m_content_type; }
  bool is_success() const { return m_success; }

 private:
  std::string m_payload;
  std::string m_content_type;
  bool m_success;
};

namespace detail {

inline std::string json_escape(std::string const& s) {
  std::string out;
  out.reserve(s.size() + 2);
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += char(c);
        }
    }
  }
  return out;
}

inline bool iequals(std::string const& a, char const* b) {
  size_t n = std::strlen(b);
  if (a.size() != n) return false;
  for (size_t i = 0; i < n; ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

struct http_response {
  int status = 0;
  std::string headers;  // raw header block, one "name: value\r\n" per line
  std::string body;

  std::string header(char const* name) const {
    size_t pos = 0;
    while (pos < headers.size()) {
      size_t end = headers.find("\r\n", pos);
      if (end == std::string::npos) end = headers.size();
      size_t colon = headers.find(':', pos);
      if (colon != std::string::npos && colon < end && iequals(headers.substr(pos, colon - pos), name)) {
        size_t v = colon + 1;
        while (v < end && (headers[v] == ' ' || headers[v] == '\t')) ++v;
        return headers.substr(v, end - v);
      }
      pos = end + 2;
    }
    return {};
  }
};

// A blocking HTTP/1.1 client for one host:port, keeping its connection open between requests.
class http_client {
 public:
  explicit http_client(std::string host_port) {
    size_t colon = host_port.rfind(':');
    host_ = colon == std::string::npos ? host_port : host_port.substr(0, colon);
    port_ = colon == std::string::npos ? "80" : host_port.substr(colon + 1);
  }
  ~http_client() { close_fd(); }
  http_client(http_client const&) = delete;
  http_client& operator=(http_client const&) = delete;

  // Sends one request; on a stale keep-alive connection (the server closed it) reconnects and
  // sends once more. False when the server cannot be reached or answered garbage.
  bool request(char const* method, std::string const& path, std::string const& body, std::string const& extra_headers,
               http_response& out) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (fd_ < 0 && !connect_fd()) return false;
      std::string req = std::string(method) + " " + path + " HTTP/1.1\r\nHost: " + host_ + ":" + port_ +
                        "\r\nUser-Agent: lamina-cpp-runtime\r\n" + extra_headers +
                        "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
      if (write_all(req) && write_all(body) && read_response(out)) return true;
      close_fd();
    }
    return false;
  }

 private:
  // The Runtime API address is numeric (127.0.0.1:9001 on Lambda and on lamina); name lookup is
  // left out so that statically linked functions need no NSS modules at run time.
  bool connect_fd() {
    sockaddr_storage addr{};
    socklen_t len = 0;
    std::string host = host_ == "localhost" ? std::string("127.0.0.1") : host_;
    if (!host.empty() && host.front() == '[') host = host.substr(1, host.size() - 2);
    auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
    uint16_t port = uint16_t(std::atoi(port_.c_str()));
    if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
      v4->sin_family = AF_INET;
      v4->sin_port = htons(port);
      len = sizeof *v4;
    } else if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
      v6->sin6_family = AF_INET6;
      v6->sin6_port = htons(port);
      len = sizeof *v6;
    } else {
      std::fprintf(stderr, "lambda runtime: AWS_LAMBDA_RUNTIME_API host '%s' is not an IP address\n", host_.c_str());
      return false;
    }
    int fd = ::socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
      ::close(fd);
      return false;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fd_ = fd;
    buf_.clear();
    return true;
  }
  void close_fd() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    buf_.clear();
  }
  bool write_all(std::string const& data) {
    size_t off = 0;
    while (off < data.size()) {
      ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      off += size_t(n);
    }
    return true;
  }
  // Appends at least one byte to buf_; false at EOF or error. No timeout: GET /next blocks until
  // an event arrives, by design.
  bool fill() {
    char chunk[65536];
    for (;;) {
      ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      buf_.append(chunk, size_t(n));
      return true;
    }
  }
  bool read_line(std::string& line) {
    size_t end;
    while ((end = buf_.find("\r\n")) == std::string::npos)
      if (!fill()) return false;
    line = buf_.substr(0, end);
    buf_.erase(0, end + 2);
    return true;
  }
  bool read_exact(size_t n, std::string& out) {
    while (buf_.size() < n)
      if (!fill()) return false;
    out.append(buf_, 0, n);
    buf_.erase(0, n);
    return true;
  }
  bool read_response(http_response& out) {
    size_t head_end;
    while ((head_end = buf_.find("\r\n\r\n")) == std::string::npos)
      if (!fill()) return false;
    std::string status_line = buf_.substr(0, buf_.find("\r\n"));
    if (status_line.compare(0, 5, "HTTP/") != 0 || status_line.size() < 12) return false;
    out.status = std::atoi(status_line.c_str() + 9);
    size_t first = status_line.size() + 2;
    out.headers = buf_.substr(first, head_end + 2 - first);
    buf_.erase(0, head_end + 4);
    out.body.clear();
    if (iequals(out.header("Transfer-Encoding"), "chunked")) {
      for (;;) {
        std::string size_line;
        if (!read_line(size_line)) return false;
        size_t size = std::strtoul(size_line.c_str(), nullptr, 16);
        if (size == 0) {
          std::string trailer;
          do {
            if (!read_line(trailer)) return false;
          } while (!trailer.empty());
          break;
        }
        std::string crlf;
        if (!read_exact(size, out.body) || !read_line(crlf)) return false;
      }
    } else {
      std::string length = out.header("Content-Length");
      if (!length.empty() && !read_exact(std::strtoull(length.c_str(), nullptr, 10), out.body)) return false;
    }
    if (iequals(out.header("Connection"), "close")) close_fd();
    return true;
  }

  std::string host_, port_;
  int fd_ = -1;
  std::string buf_;  // bytes read past the last response
};

}  // namespace detail

inline invocation_response invocation_response::failure(std::string const& error_message,
                                                        std::string const& error_type) {
  return invocation_response("{\"errorMessage\":\"" + detail::json_escape(error_message) + "\",\"errorType\":\"" +
                                 detail::json_escape(error_type) + "\",\"stackTrace\":[]}",
                             "application/json", false);
}

// The result of a Runtime API call: the value, or the HTTP status (0 = no answer) it failed with.
template <typename TResult>
class outcome {
 public:
  outcome(TResult result) : m_result(std::move(result)), m_status(0), m_success(true) {}  // NOLINT: implicit
  static outcome failed(int status) {
    outcome o{TResult{}};
    o.m_status = status;
    o.m_success = false;
    return o;
  }
  bool is_success() const { return m_success; }
  TResult const& get_result() const& { return m_result; }
  TResult&& get_result() && { return std::move(m_result); }
  int get_failure() const { return m_status; }

 private:
  TResult m_result;
  int m_status;
  bool m_success;
};

struct no_result {};

// The Runtime API client run_handler() uses, for functions that drive the loop themselves.
class runtime {
 public:
  using next_outcome = outcome<invocation_request>;
  using post_outcome = outcome<no_result>;

  explicit runtime(std::string const& endpoint) : m_client(endpoint) {}

  next_outcome get_next() {
    detail::http_response res;
    if (!m_client.request("GET", "/2018-06-01/runtime/invocation/next", "", "", res))
      return next_outcome::failed(0);
    if (res.status != 200) return next_outcome::failed(res.status);
    invocation_request req;
    req.payload = std::move(res.body);
    req.request_id = res.header("Lambda-Runtime-Aws-Request-Id");
    req.xray_trace_id = res.header("Lambda-Runtime-Trace-Id");
    req.client_context = res.header("Lambda-Runtime-Client-Context");
    req.cognito_identity = res.header("Lambda-Runtime-Cognito-Identity");
    req.function_arn = res.header("Lambda-Runtime-Invoked-Function-Arn");
    std::string deadline = res.header("Lambda-Runtime-Deadline-Ms");
    req.deadline = std::chrono::system_clock::time_point(
        std::chrono::milliseconds(std::strtoll(deadline.c_str(), nullptr, 10)));
    return req;
  }

  post_outcome post_success(std::string const& request_id, invocation_response const& response) {
    return post(request_id + "/response", response, "");
  }
  post_outcome post_failure(std::string const& request_id, invocation_response const& response) {
    return post(request_id + "/error", response, "Lambda-Runtime-Function-Error-Type: " + error_type_of(response) + "\r\n");
  }

 private:
  // The errorType of a failure() body, for the error-type header ("Unhandled" when absent).
  static std::string error_type_of(invocation_response const& response) {
    std::string const& p = response.get_payload();
    size_t at = p.find("\"errorType\":\"");
    if (at == std::string::npos) return "Unhandled";
    at += 13;
    size_t end = p.find('"', at);
    std::string type = end == std::string::npos ? std::string() : p.substr(at, end - at);
    for (char c : type)
      if (c == '\\' || c == '\r' || c == '\n') return "Unhandled";
    return type.empty() ? "Unhandled" : type;
  }
  post_outcome post(std::string const& tail, invocation_response const& response, std::string const& extra) {
    detail::http_response res;
    std::string headers = "Content-Type: " + response.get_content_type() + "\r\n" + extra;
    if (!m_client.request("POST", "/2018-06-01/runtime/invocation/" + tail, response.get_payload(), headers, res))
      return post_outcome::failed(0);
    if (res.status < 200 || res.status >= 300) return post_outcome::failed(res.status);
    return no_result{};
  }

  detail::http_client m_client;
};

// Serves invocations with `handler` until the Runtime API goes away (the environment is being
// shut down). Gives up after three failed attempts to fetch the next event in a row.
inline void run_handler(std::function<invocation_response(invocation_request const&)> const& handler) {
  char const* endpoint = std::getenv("AWS_LAMBDA_RUNTIME_API");
  if (!endpoint) {
    std::fprintf(stderr, "AWS_LAMBDA_RUNTIME_API is not set: run this function in a Lambda environment\n");
    return;
  }
  runtime rt(endpoint);
  int failures = 0;
  while (failures < 3) {
    auto next = rt.get_next();
    if (!next.is_success()) {
      ++failures;
      std::fprintf(stderr, "lambda runtime: failed to get the next invocation (HTTP %d)\n", next.get_failure());
      continue;
    }
    failures = 0;
    invocation_request const& req = next.get_result();
    if (!req.xray_trace_id.empty()) ::setenv("_X_AMZN_TRACE_ID", req.xray_trace_id.c_str(), 1);
    else ::unsetenv("_X_AMZN_TRACE_ID");
    invocation_response res = handler(req);
    auto posted = res.is_success() ? rt.post_success(req.request_id, res) : rt.post_failure(req.request_id, res);
    if (!posted.is_success())
      std::fprintf(stderr, "lambda runtime: failed to post the result of %s (HTTP %d)\n", req.request_id.c_str(),
                   posted.get_failure());
  }
}

}  // namespace lambda_runtime
}  // namespace aws
