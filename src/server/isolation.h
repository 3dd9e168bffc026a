// Isolation set-up: picks the sandbox backend and the cgroup manager once at start, from what this
// machine offers, and says what is missing (`lamina server --check`, and loudly at start).
//
//   namespace  pid/mount/uts/ipc/net namespaces, seccomp, unprivileged uid; cgroups when usable
//   process    plain child processes: no isolation, no limits (non-root daemons, or --sandbox process)
//
// `auto` takes namespace when a probe (a real sandboxed /bin/true) works, else process with a
// warning. An explicit `namespace` that does not work is an error: never pretend.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "sandbox/cgroup.h"
#include "sandbox/sandbox.h"

namespace lamina::server {

struct IsolationSetup {
  std::unique_ptr<sandbox::Sandbox> sandbox;
  std::unique_ptr<sandbox::CgroupManager> cgroups;  // null: environments get no cgroup
  bool namespaces = false;
  bool userNamespaces = false;        // namespaces, as a non-root daemon (no cgroups, no spares)
  std::vector<std::string> warnings;  // what is missing and what it costs
  std::vector<std::string> facts;     // what is in use ("cgroup v1: cpu, memory, ...")
};

// `mode` is "auto", "namespace" or "process". `dataDir` is masked inside environments; the cgroup
// instance is derived from it (unless given), so a restart on the same data dir reaps its
// predecessor's groups.
Result<IsolationSetup> setUpIsolation(const std::string& mode, const std::filesystem::path& dataDir,
                                      const std::string& cgroupInstance = {});

// `lamina server --check`: prints what setUpIsolation(auto) finds; 0 when fully isolated, else 1.
int checkIsolation(const std::filesystem::path& dataDir);

}  // namespace lamina::server
