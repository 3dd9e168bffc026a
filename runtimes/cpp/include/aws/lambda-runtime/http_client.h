// The HTTP/1.1 client under lamina's C++ SDK (runtime.h): blocking, one keep-alive TCP connection
// to one host, POSIX sockets and the standard library only. Not part of aws-lambda-cpp's API.
//
// It speaks just what the Runtime API needs: requests with a Content-Length body; answers framed by
// Content-Length, chunked encoding or the end of the connection, after any 1xx interim answers. A
// server that closes the connection between exchanges costs one reconnect and resend.
//
// The host must be an IP literal or `localhost`: AWS_LAMBDA_RUNTIME_API always is one (127.0.0.1:9001
// on Lambda and on lamina), and leaving out name lookup lets functions link statically without NSS.
//
// Not thread-safe: one HttpClient per thread.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "aws/http/response.h"

namespace aws {
namespace lambda_runtime {
namespace detail {

class HttpClient {
 public:
  // `endpoint`: "http://host:port", "host:port" or "[v6]:port" (port 80 when absent; a path after
  // the authority is ignored). An unusable endpoint makes every exchange() fail.
  explicit HttpClient(std::string const& endpoint) { parseEndpoint(endpoint); }
  ~HttpClient() { disconnect(); }
  HttpClient(HttpClient const&) = delete;
  HttpClient& operator=(HttpClient const&) = delete;

  // Sends `method target` with `headers` ("Name: value\r\n" each) and `body`, then reads the answer:
  // status and headers into `head`, the body into `responseBody` (both reset first). Waits for the
  // answer without a time limit: GET /next blocks until an event arrives, maybe across a freeze.
  // False when no complete answer came (refused, reset, malformed); the connection is dropped then.
  bool exchange(char const* method, std::string const& target, std::string const& headers, std::string const& body,
                http::response& head, std::string& responseBody) {
    std::string request = std::string(method) + " " + target + " HTTP/1.1\r\nHost: " + hostHeader_ + "\r\n" + headers;
    if (body.size() > 0 || std::strcmp(method, "GET") != 0)
      request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    request += "\r\n";
    // A reused connection may have been closed by the server while idle; that shows only now, as a
    // failed send or an end of stream before the first byte of the answer. Then reconnect, resend.
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (!buf_.empty()) disconnect();  // bytes nobody asked for: the stream is out of step
      if (fd_ < 0 && !connect()) return false;
      bool const reused = exchanges_ > 0;
      head = http::response();
      responseBody.clear();
      Read result = sendAll(request, body) ? readAnswer(head, responseBody) : Read::kNothing;
      if (result == Read::kOk) {
        ++exchanges_;
        if (closeAfter_) disconnect();
        return true;
      }
      disconnect();
      if (result == Read::kBroken || !reused) return false;
    }
    return false;
  }

 private:
  enum class Read { kOk, kNothing, kBroken };  // kNothing: not a byte of the answer arrived

  static constexpr int kConnectTimeoutMs = 1000;  // as aws-lambda-cpp (curl's CONNECTTIMEOUT 1)
  static constexpr size_t kMaxHead = 1 << 20;     // status line + headers, or a chunk-size line + trailers
  static constexpr size_t kMaxBody = 1 << 30;     // far above any Lambda payload; guards the allocation

  void parseEndpoint(std::string endpoint) {
    if (endpoint.compare(0, 7, "http://") == 0) endpoint.erase(0, 7);
    endpoint = endpoint.substr(0, endpoint.find('/'));
    hostHeader_ = endpoint;
    std::string host = endpoint;
    std::string port = "80";
    if (!endpoint.empty() && endpoint[0] == '[') {
      size_t close = endpoint.find(']');
      if (close == std::string::npos) return;
      host = endpoint.substr(1, close - 1);
      if (endpoint.size() > close + 1 && endpoint[close + 1] == ':') port = endpoint.substr(close + 2);
    } else if (size_t colon = endpoint.rfind(':'); colon != std::string::npos) {
      host = endpoint.substr(0, colon);
      port = endpoint.substr(colon + 1);
    }
    unsigned long portNumber = 0;
    if (!parseDecimal(port, portNumber) || portNumber == 0 || portNumber > 65535) return;
    if (host == "localhost") host = "127.0.0.1";
    auto* v4 = reinterpret_cast<sockaddr_in*>(&addr_);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr_);
    if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
      v4->sin_family = AF_INET;
      v4->sin_port = htons(static_cast<uint16_t>(portNumber));
      addrLen_ = sizeof(sockaddr_in);
    } else if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
      v6->sin6_family = AF_INET6;
      v6->sin6_port = htons(static_cast<uint16_t>(portNumber));
      addrLen_ = sizeof(sockaddr_in6);
    }
  }

  bool connect() {
    if (addrLen_ == 0) return false;
    int fd = ::socket(addr_.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return false;
    bool ok = ::connect(fd, reinterpret_cast<sockaddr const*>(&addr_), addrLen_) == 0;
    if (!ok && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      int ready;
      do ready = ::poll(&p, 1, kConnectTimeoutMs);
      while (ready < 0 && errno == EINTR);
      int err = 0;
      socklen_t len = sizeof err;
      ok = ready == 1 && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
    }
    // Back to blocking: the wait for the next event has no deadline by design.
    if (!ok || ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0) {
      ::close(fd);
      return false;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fd_ = fd;
    exchanges_ = 0;
    closeAfter_ = false;
    return true;
  }

  void disconnect() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    buf_.clear();
  }

  // One sendmsg() stream of head then body: no copy of a large payload, and no small head packet
  // waiting on its own.
  bool sendAll(std::string const& head, std::string const& body) {
    size_t const total = head.size() + body.size();
    size_t sent = 0;
    while (sent < total) {
      iovec parts[2];
      int count = 0;
      if (sent < head.size()) parts[count++] = {const_cast<char*>(head.data() + sent), head.size() - sent};
      size_t bodyOffset = sent > head.size() ? sent - head.size() : 0;
      if (bodyOffset < body.size())
        parts[count++] = {const_cast<char*>(body.data() + bodyOffset), body.size() - bodyOffset};
      msghdr msg{};
      msg.msg_iov = parts;
      msg.msg_iovlen = static_cast<size_t>(count);
      ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);  // a closed peer is an error value, not SIGPIPE
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      sent += static_cast<size_t>(n);
    }
    return true;
  }

  // Receives more bytes into buf_. False at end of stream or on error.
  bool fill() {
    char chunk[65536];
    for (;;) {
      ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      buf_.append(chunk, static_cast<size_t>(n));
      return true;
    }
  }

  // Takes one CRLF-terminated line off buf_ (without the CRLF).
  bool readLine(std::string& line) {
    size_t scanned = 0;
    size_t end;
    while ((end = buf_.find("\r\n", scanned)) == std::string::npos) {
      if (buf_.size() > kMaxHead) return false;
      scanned = buf_.empty() ? 0 : buf_.size() - 1;
      if (!fill()) return false;
    }
    line.assign(buf_, 0, end);
    buf_.erase(0, end + 2);
    return true;
  }

  // Appends exactly `n` bytes to `out`: what buf_ holds first, the rest received straight into `out`.
  bool readExact(size_t n, std::string& out) {
    if (n > kMaxBody || out.size() > kMaxBody - n) return false;
    size_t const fromBuffer = n < buf_.size() ? n : buf_.size();
    out.append(buf_, 0, fromBuffer);
    buf_.erase(0, fromBuffer);
    size_t have = out.size();
    size_t const want = have + (n - fromBuffer);
    out.resize(want);
    while (have < want) {
      ssize_t got = ::recv(fd_, &out[have], want - have, 0);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return false;
      have += static_cast<size_t>(got);
    }
    return true;
  }

  Read readAnswer(http::response& head, std::string& body) {
    if (buf_.empty() && !fill()) return Read::kNothing;
    int status;
    do {  // skip 1xx interim answers (100 Continue and the like)
      head = http::response();
      if (!readHead(head, status)) return Read::kBroken;
    } while (status >= 100 && status < 200 && status != 101);
    head.set_response_code(static_cast<http::response_code>(status));
    auto contentType = head.get_header("content-type");
    head.set_content_type(contentType.is_success() ? contentType.get_result().c_str() : "");

    if (status == 204 || status == 304) return Read::kOk;
    auto transfer = head.get_header("transfer-encoding");
    if (transfer.is_success() && contains(transfer.get_result(), "chunked"))
      return readChunked(body) ? Read::kOk : Read::kBroken;
    auto length = head.get_header("content-length");
    if (length.is_success()) {
      unsigned long long n = 0;
      if (!parseDecimal(length.get_result(), n)) return Read::kBroken;
      return readExact(static_cast<size_t>(n), body) ? Read::kOk : Read::kBroken;
    }
    // No framing: the body runs to the end of the connection.
    while (fill()) {
    }
    body.append(buf_);
    buf_.clear();
    closeAfter_ = true;
    return Read::kOk;
  }

  // Reads the status line and headers; notes whether the server will close the connection after.
  bool readHead(http::response& head, int& status) {
    std::string line;
    if (!readLine(line)) return false;
    // "HTTP/1.x SSS reason"
    if (line.size() < 12 || line.compare(0, 7, "HTTP/1.") != 0 || line[8] != ' ') return false;
    status = 0;
    for (size_t i = 9; i < 12; ++i) {
      if (line[i] < '0' || line[i] > '9') return false;
      status = status * 10 + (line[i] - '0');
    }
    bool const http10 = line[7] == '0';
    size_t headBytes = line.size();
    for (;;) {
      if (!readLine(line)) return false;  // the stream ended inside the headers
      if (line.empty()) break;
      headBytes += line.size();
      if (headBytes > kMaxHead) return false;
      size_t colon = line.find(':');
      if (colon == std::string::npos) continue;  // not a header; tolerated
      size_t v = colon + 1;
      size_t e = line.size();
      while (v < e && (line[v] == ' ' || line[v] == '\t')) ++v;
      while (e > v && (line[e - 1] == ' ' || line[e - 1] == '\t')) --e;
      head.add_header(line.substr(0, colon), line.substr(v, e - v));
    }
    auto connection = head.get_header("connection");
    std::string token = connection.is_success() ? connection.get_result() : "";
    closeAfter_ = contains(token, "close") || (http10 && !contains(token, "keep-alive"));
    return true;
  }

  bool readChunked(std::string& body) {
    std::string line;
    for (;;) {
      if (!readLine(line)) return false;
      unsigned long long size = 0;
      size_t digits = 0;
      for (char c : line) {
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0) break;                // ";extension" or whitespace follows the size
        if (++digits > 8) return false;  // over kMaxBody anyway
        size = size * 16 + static_cast<unsigned>(d);
      }
      if (digits == 0) return false;
      if (size == 0) break;
      if (!readExact(static_cast<size_t>(size), body) || !readLine(line) || !line.empty()) return false;
    }
    do {  // trailers, up to the empty line
      if (!readLine(line)) return false;
    } while (!line.empty());
    return true;
  }

  // Case-insensitive substring test, for header tokens ("Keep-Alive", "Chunked").
  static bool contains(std::string const& haystack, char const* needle) {
    std::string lowered = haystack;
    for (char& c : lowered) c = c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
    return lowered.find(needle) != std::string::npos;
  }

  template <typename T>
  static bool parseDecimal(std::string const& text, T& out) {
    if (text.empty() || text.size() > 18) return false;
    out = 0;
    for (char c : text) {
      if (c < '0' || c > '9') return false;
      out = static_cast<T>(out * 10 + static_cast<T>(c - '0'));
    }
    return true;
  }

  std::string hostHeader_;
  sockaddr_storage addr_{};
  socklen_t addrLen_ = 0;  // 0: the endpoint is unusable
  int fd_ = -1;
  int exchanges_ = 0;        // completed on fd_; a fresh connection is never retried
  bool closeAfter_ = false;  // the last answer ends the connection
  std::string buf_;          // received, not yet consumed
};

}  // namespace detail
}  // namespace lambda_runtime
}  // namespace aws
