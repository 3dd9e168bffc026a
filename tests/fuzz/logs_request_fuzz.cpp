// Fuzz target: the CloudWatch Logs API handler on arbitrary JSON bodies. The first byte picks the
// operation; the rest is the body. Every answer must be an HTTP response, never a crash.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "core/time.h"
#include "http/message.h"
#include "services/logs/log_store.h"
#include "services/logs/logs_api.h"

namespace {

struct Fixture {
  lamina::core::SystemClock clock;
  std::filesystem::path dir;
  std::unique_ptr<lamina::services::logs::LogStore> store;
  Fixture() {
    char tmpl[] = "/tmp/lamina-logs-fuzz-XXXXXX";
    dir = ::mkdtemp(tmpl);
    store = std::move(lamina::services::logs::LogStore::open(dir, clock).value());
    store->append("/aws/lambda/f", "2024/01/01/[$LATEST]abc", 1000, "START RequestId: x");
  }
  ~Fixture() {
    store.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture fixture;
  static const char* kOps[] = {"DescribeLogGroups", "DescribeLogStreams", "GetLogEvents",   "FilterLogEvents",
                               "PutLogEvents",      "CreateLogStream",    "CreateLogGroup", "Nope"};
  if (size == 0) return 0;
  lamina::http::Request req;
  req.method = "POST";
  req.target = "/";
  req.body.assign(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto res = lamina::services::logs::handleLogsRequest(*fixture.store, req, kOps[data[0] % 8], 2000);
  if (res.status < 200 || res.status > 599) std::abort();
  return 0;
}
