// A no-op Lambda custom runtime in plain C++ (no SDK): GET /next, echo the event back as the
// response, forever. The benchmark's function, so latency measures lamina and not a runtime.
#include <cstdio>
#include <cstdlib>

#include "http_lite.h"

int main() {
  const char* api = std::getenv("AWS_LAMBDA_RUNTIME_API");
  if (!api) {
    std::fprintf(stderr, "AWS_LAMBDA_RUNTIME_API is not set\n");
    return 1;
  }
  std::string hostPort = api;
  size_t colon = hostPort.rfind(':');
  std::string host = hostPort.substr(0, colon);
  int port = std::atoi(hostPort.c_str() + colon + 1);
  int fd = bench::connectTo(host, port);
  if (fd < 0) return 1;
  std::string buf;
  const std::string next = "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: " + hostPort + "\r\n\r\n";
  for (;;) {
    if (!bench::writeAll(fd, next)) return 1;
    bench::Message m;
    if (!bench::readMessage(fd, buf, m)) return 1;
    std::string id = m.header("lambda-runtime-aws-request-id");
    std::string post = "POST /2018-06-01/runtime/invocation/" + id + "/response HTTP/1.1\r\nHost: " + hostPort +
                       "\r\nContent-Length: " + std::to_string(m.body.size()) + "\r\n\r\n" + m.body;
    if (!bench::writeAll(fd, post)) return 1;
    if (!bench::readMessage(fd, buf, m)) return 1;
  }
}
