// ZygotePool: one zygote (sandbox/zygote.h) per runtime that has one (RuntimeCatalog::zygoteLaunch:
// python3.9 and later, nodejs18.x-22.x), started in the background at the first cold start of that runtime; later
// cold starts of it fork their runtime process from the zygote instead of exec'ing an interpreter
// (Environment::start). A zygote that exits is dropped and started again at the next cold start;
// one that fails to start is retried after 30 s, and the failure is logged once.
//
// Threading: get() from any thread (a mutex guards the table); starts run on the blocking pool.
#pragma once

#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/runtimes.h"
#include "sandbox/sandbox.h"
#include "sandbox/zygote.h"

namespace lamina::runtime {

class ZygotePool {
 public:
  struct Ready {
    std::shared_ptr<sandbox::Zygote> zygote;
    std::vector<std::string> env;  // what it started with (zygoteCompatible checks a function against it)
  };

  ZygotePool(boost::asio::thread_pool& blocking, sandbox::Sandbox& sandbox, RuntimeCatalog& catalog);
  ~ZygotePool();
  ZygotePool(const ZygotePool&) = delete;
  ZygotePool& operator=(const ZygotePool&) = delete;

  // The running zygote of `runtime`, or null: then one is being started (unless the last attempt
  // failed less than 30 s ago). Never blocks.
  std::shared_ptr<const Ready> get(const std::string& runtime);
  // A zygote for the next spare's keeper (SpareOptions::keeperSource), or {"", null}: of the
  // runtimes asked for in the last minute whose zygote runs, the most recent one no ready spare is
  // `covered` for, else the most recent one.
  std::pair<std::string, std::shared_ptr<sandbox::Zygote>> forSpares(const std::vector<std::string>& covered) const;
  // How many zygotes are running (for /metrics and tests).
  size_t ready() const;
  // No more starts; running zygotes are killed.
  void stop();

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace lamina::runtime
