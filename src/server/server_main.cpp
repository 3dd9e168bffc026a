#include "server/server_main.h"

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include "server/daemon.h"
#include "server/isolation.h"

namespace lamina::server {

int serverMain(int argc, char** argv) {
  DaemonOptions opt;
  if (const char* k = std::getenv("LAMINA_ACCESS_KEY_ID")) opt.accessKeyId = k;
  if (const char* s = std::getenv("LAMINA_SECRET_ACCESS_KEY")) opt.secretAccessKey = s;
  double keepAliveSeconds = 300;
  double drainSeconds = 30;
  CLI::App app{"lamina server: AWS Lambda-compatible function platform"};
  app.name("lamina server");
  app.add_option("--listen", opt.listen, "HOST:PORT of the edge API (port 0 = any free port)")->capture_default_str();
  app.add_option("--data-dir", opt.dataDir, "where functions, code and logs are kept")->capture_default_str();
  app.add_option("--access-key", opt.accessKeyId, "access key id clients sign with (env LAMINA_ACCESS_KEY_ID)");
  app.add_option("--secret-key", opt.secretAccessKey, "secret access key (env LAMINA_SECRET_ACCESS_KEY)");
  app.add_option("--keep-alive", keepAliveSeconds, "seconds an idle execution environment is kept warm")
      ->capture_default_str()
      ->check(CLI::Range(0.01, 86400.0));
  app.add_option("--account-concurrency", opt.accountConcurrency, "concurrent executions allowed in the account")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  app.add_option("--drain-timeout", drainSeconds, "seconds to wait for in-flight invocations on SIGTERM")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 3600.0));
  int busyPollUs = 200;
  app.add_option("--busy-poll-us", busyPollUs, "microseconds the I/O loop spins for more work before sleeping")
      ->capture_default_str()
      ->check(CLI::Range(0, 10000));
  app.add_option("--sandbox", opt.sandbox,
                 "how environments are isolated: namespace (needs root), process (none), or auto (namespace "
                 "when it works, else process with a warning)")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "namespace", "process"}));
  int freezeAfterMs = 100;
  app.add_option("--freeze-after-ms", freezeAfterMs, "idle milliseconds before an environment is frozen (0 = never)")
      ->capture_default_str()
      ->check(CLI::Range(0, 3600000));
  app.add_option("--spare-environments", opt.spares,
                 "prewarmed environments kept ready so cold starts skip namespace and cgroup creation")
      ->capture_default_str()
      ->check(CLI::Range(0, 64));
  std::string zygotes = "on";
  app.add_option(
         "--zygotes", zygotes,
         "fork Python and Node.js runtime processes from a pre-started, pre-imported interpreter (namespace sandbox "
         "with spare environments; off = always exec the interpreter)")
      ->capture_default_str()
      ->check(CLI::IsMember({"on", "off"}));
  int graceMs = 500;
  app.add_option("--shutdown-grace-ms", graceMs,
                 "milliseconds a stopping idle environment's runtime gets between SIGTERM and SIGKILL")
      ->capture_default_str()
      ->check(CLI::Range(0, 60000));
  app.add_option("--scale-up-rate", opt.scaleUpPer10s,
                 "new execution environments one function may start per 10 seconds (AWS: 1000)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  std::string keepAlivePolicy = "fixed";
  app.add_option("--keep-alive-policy", keepAlivePolicy,
                 "fixed: --keep-alive for every function; adaptive: per function from its idle-gap histogram "
                 "(falls back to --keep-alive until it has a pattern)")
      ->capture_default_str()
      ->check(CLI::IsMember({"fixed", "adaptive"}));
  double keepAliveBinSeconds = 60;
  app.add_option("--keep-alive-bin", keepAliveBinSeconds,
                 "seconds per bin of the adaptive policy's histogram (240 bins)")
      ->capture_default_str()
      ->check(CLI::Range(0.001, 3600.0));
  app.add_option("--memory-budget", opt.memoryBudgetMb,
                 "MB of MemorySize environments may hold; idle ones are stopped to stay under it (0 = none)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t(0), int64_t(1) << 40));
  std::vector<double> retryDelays{60, 120};
  app.add_option("--async-retry-delays", retryDelays,
                 "seconds before each retry of a failed asynchronous invocation (the last repeats; AWS: 60 120)")
      ->capture_default_str()
      ->delimiter(',')
      ->check(CLI::Range(0.0, 21600.0));
  app.add_option("--async-concurrency", opt.asyncConcurrency,
                 "asynchronous events of one function run at once, at most (within its concurrency)")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  bool check = false;
  app.add_flag("--check", check, "report which isolation features this machine offers, then exit (1 if incomplete)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  opt.keepAlive = std::chrono::milliseconds(int64_t(keepAliveSeconds * 1000));
  opt.drainLimit = std::chrono::milliseconds(int64_t(drainSeconds * 1000));
  opt.busyPoll = std::chrono::microseconds(busyPollUs);
  opt.freezeAfter = std::chrono::milliseconds(freezeAfterMs);
  opt.zygotes = zygotes == "on";
  opt.shutdownGrace = std::chrono::milliseconds(graceMs);
  opt.adaptiveKeepAlive = keepAlivePolicy == "adaptive";
  opt.asyncRetryDelays.clear();
  for (double d : retryDelays) opt.asyncRetryDelays.push_back(std::chrono::milliseconds(int64_t(d * 1000)));
  opt.keepAliveBin = std::chrono::milliseconds(int64_t(keepAliveBinSeconds * 1000));
  if (check) {
    std::error_code ec;
    auto data = std::filesystem::absolute(opt.dataDir, ec).lexically_normal();
    return checkIsolation(data.has_filename() ? data : data.parent_path());
  }
  return runDaemon(opt);
}

}  // namespace lamina::server
