// Daemon: `lamina server` — builds every subsystem from its options (the composition root), serves
// the edge port until SIGINT/SIGTERM, then shuts down gracefully: stop admitting, let in-flight
// invocations finish (up to a bound), stop environments, flush logs.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace lamina::server {

struct DaemonOptions {
  std::string listen = "127.0.0.1:9001";
  std::string dataDir = "./.lamina";
  std::string accessKeyId = "test";
  std::string secretAccessKey = "test";
  std::chrono::milliseconds keepAlive{std::chrono::minutes(5)};
  int accountConcurrency = 1000;
  int scaleUpPer10s = 1000;  // new on-demand environments one function may start per 10 s
  bool adaptiveKeepAlive = false;
  std::chrono::milliseconds keepAliveBin{std::chrono::minutes(1)};
  int64_t memoryBudgetMb = 0;
  std::chrono::milliseconds drainLimit{std::chrono::seconds(30)};
  // How long the I/O loop spins for more work before sleeping (0 = never spin).
  std::chrono::microseconds busyPoll{200};
  std::string sandbox = "auto";                // auto | namespace | process (server/isolation.h)
  std::chrono::milliseconds freezeAfter{100};  // idle time before an environment is frozen (0 = never)
  int spares = 2;       // prewarmed environments kept ready for cold starts (namespace sandbox only)
  bool zygotes = true;  // fork Python/Node runtime processes from a pre-started interpreter (needs spares)
  std::chrono::milliseconds shutdownGrace{500};  // SIGTERM → SIGKILL when an idle environment stops
  // Delays before retry 1, 2, ... of a failed asynchronous invocation (AWS: about 1 then 2 minutes).
  std::vector<std::chrono::milliseconds> asyncRetryDelays{std::chrono::minutes(1), std::chrono::minutes(2)};
  int asyncConcurrency = 32;  // asynchronous events of one function running at once, at most
};

// Runs the daemon; returns the process exit code. Fails fast on bad options.
int runDaemon(const DaemonOptions& options);

}  // namespace lamina::server
