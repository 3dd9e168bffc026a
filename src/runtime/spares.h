// SparePool: prewarmed execution environments, so a cold start skips the slow, function-agnostic
// part of creating one (DESIGN.md "Execution environments": cold starts are the headline).
//
// A spare is a sandbox Shell — init already in fresh pid/mount/uts/ipc/net namespaces with the
// generic view built — plus its cgroup (joined, generic limits) and its Runtime API and edge
// listeners, made inside its network namespace. Taking one leaves only the function's part: its
// limits, /var/task, /tmp's size, privileges and exec (Environment::start). The pool refills in the
// background up to `target`; when it is empty a cold start builds everything itself.
//
// Threading: take()/start()/stop() on the I/O thread; prewarming runs on the blocking pool.
#pragma once

#include <boost/asio/thread_pool.hpp>
#include <filesystem>
#include <memory>
#include <optional>

#include "core/unique_fd.h"
#include "sandbox/cgroup.h"
#include "sandbox/sandbox.h"
#include "sandbox/zygote.h"

namespace boost::asio {
class io_context;
}

namespace lamina::runtime {

struct Spare {
  std::unique_ptr<sandbox::Shell> shell;
  std::unique_ptr<sandbox::Cgroup> cgroup;  // null without cgroups
  core::UniqueFd api, edge;                 // listening on 127.0.0.1:9001 and :edgePort inside
  // A zygote's keeper already inside (zygote.h), for a cold start of `keeperRuntime`; else null.
  std::string keeperRuntime;
  std::unique_ptr<sandbox::Keeper> keeper;
};

struct SpareOptions {
  sandbox::Sandbox* sandbox = nullptr;
  sandbox::CgroupManager* cgroups = nullptr;
  std::filesystem::path runtimeDir;  // bound at /var/runtime
  uint16_t edgePort = 0;
  int target = 2;
  int hostCpus = 1;
  // Which zygote, if any, gives a new spare a keeper, given the runtimes the ready spares' keepers
  // are for: the runtime's name and its zygote, or {"", null}. Called while building.
  std::function<std::pair<std::string, std::shared_ptr<sandbox::Zygote>>(const std::vector<std::string>& covered)>
      keeperSource;
};

// Builds one spare now (what the pool does in the background); `covered`: the runtimes the other
// spares' keepers are for. Blocking; off the I/O thread.
Result<Spare> buildSpare(const SpareOptions& options, const std::vector<std::string>& covered = {});

class SparePool {
 public:
  SparePool(boost::asio::io_context& io, boost::asio::thread_pool& blocking, SpareOptions options);
  ~SparePool();
  SparePool(const SparePool&) = delete;
  SparePool& operator=(const SparePool&) = delete;

  // Starts filling the pool.
  void start();
  // A spare if one is ready (and a refill begins), else nullopt: one whose waiting keeper is of
  // `runtime` if there is one, else one without a keeper, else any.
  std::optional<Spare> take(const std::string& runtime = "");
  // No more refills; the spares left are destroyed (killed, their cgroups removed).
  void stop();
  size_t ready() const;
  const SpareOptions& options() const;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace lamina::runtime
