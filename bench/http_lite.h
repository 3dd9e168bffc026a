// Minimal blocking HTTP/1.1 over a keep-alive socket, for the benchmark programs only: they must
// measure lamina, not a client library. Not a general parser: expects Content-Length bodies.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

namespace bench {

inline int connectTo(const std::string& host, int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(uint16_t(port));
  ::inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

inline bool writeAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n <= 0) return false;
    data.remove_prefix(size_t(n));
  }
  return true;
}

struct Message {
  std::string head;  // status line / request line and headers
  std::string body;
  std::string header(std::string_view name) const {
    // case-insensitive search for "\r\nname:"
    std::string lower = head;
    for (char& c : lower) c = char(std::tolower(static_cast<unsigned char>(c)));
    std::string key = "\r\n" + std::string(name) + ":";
    for (char& c : key) c = char(std::tolower(static_cast<unsigned char>(c)));
    size_t p = lower.find(key);
    if (p == std::string::npos) return {};
    size_t start = p + key.size();
    size_t end = head.find("\r\n", start);
    std::string v = head.substr(start, end - start);
    while (!v.empty() && v.front() == ' ') v.erase(v.begin());
    return v;
  }
};

// Reads one message (headers + Content-Length body). `buf` carries bytes between calls.
inline bool readMessage(int fd, std::string& buf, Message& out) {
  size_t headEnd;
  char chunk[65536];
  while ((headEnd = buf.find("\r\n\r\n")) == std::string::npos) {
    ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n <= 0) return false;
    buf.append(chunk, size_t(n));
  }
  out.head = buf.substr(0, headEnd + 2);
  std::string cl = out.header("content-length");
  size_t len = cl.empty() ? 0 : size_t(std::strtoull(cl.c_str(), nullptr, 10));
  size_t total = headEnd + 4 + len;
  while (buf.size() < total) {
    ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n <= 0) return false;
    buf.append(chunk, size_t(n));
  }
  out.body = buf.substr(headEnd + 4, len);
  buf.erase(0, total);
  return true;
}

}  // namespace bench
