#include "server/isolation.h"

#include <poll.h>
#include <unistd.h>

#include <cstdio>

#include "core/crypto.h"

namespace lamina::server {

namespace {

// Spawns /bin/true in the sandbox and waits for it: the only honest test of namespaces, mounts,
// seccomp and the id switch together.
Result<void> probe(sandbox::Sandbox& sb) {
  sandbox::ProcessSpec spec;
  spec.executable = "/bin/true";
  spec.argv = {"/bin/true"};
  spec.env = {"PATH=/usr/bin:/bin"};
  spec.cwd = "/";
  auto proc = sb.spawn(spec);
  if (!proc) return std::unexpected(proc.error());
  pollfd pfd{(*proc)->exitFd(), POLLIN, 0};
  if (::poll(&pfd, 1, 5000) <= 0) return fail(Code::kInternal, "a sandboxed /bin/true did not exit within 5 s");
  auto status = (*proc)->tryReap();
  if (!status || *status != 0)
    return fail(Code::kInternal,
                "a sandboxed /bin/true ended with " + (status ? sandbox::describeWaitStatus(*status) : "no status"));
  return {};
}

std::vector<std::filesystem::path> masks(const std::filesystem::path& dataDir) {
  return {dataDir,        "/root",         "/home",        "/etc/shadow",    "/etc/gshadow",
          "/etc/shadow-", "/etc/gshadow-", "/etc/sudoers", "/etc/sudoers.d", "/etc/ssh"};
}

}  // namespace

Result<IsolationSetup> setUpIsolation(const std::string& mode, const std::filesystem::path& dataDir,
                                      const std::string& cgroupInstance) {
  IsolationSetup out;
  if (mode != "auto" && mode != "namespace" && mode != "process")
    return fail(Code::kValidation, "--sandbox must be auto, namespace or process, not '" + mode + "'");
  if (mode == "process") {
    out.sandbox = sandbox::makePlainSandbox();
    out.warnings.push_back(
        "--sandbox process: functions run as ordinary child processes of the daemon, with its user, its view of "
        "the filesystem and network, and no memory or CPU limits. Use it only for code you trust.");
    return out;
  }

  std::string whyNot;
  bool root = ::geteuid() == 0;
  // Not root: the same sandbox inside a user namespace per environment, where that is allowed.
  auto sb =
      sandbox::makeNamespaceSandbox({.uid = 993, .gid = 990, .userNamespace = !root, .maskPaths = masks(dataDir)});
  if (auto ok = probe(*sb); ok) {
    out.sandbox = std::move(sb);
    out.namespaces = true;
  } else {
    whyNot = root ? "the namespace sandbox does not work on this kernel: " + ok.error().message()
                  : "the daemon is not root (uid " + std::to_string(::geteuid()) +
                        ") and user namespaces are not available to it (" + ok.error().message() +
                        "); run lamina as root (e.g. sudo) for isolation";
  }
  if (!out.namespaces) {
    if (mode == "namespace") return fail(Code::kInternal, "--sandbox namespace: " + whyNot);
    out.sandbox = sandbox::makePlainSandbox();
    out.warnings.push_back("NO ISOLATION: " + whyNot +
                           ". Functions run as ordinary child processes of the daemon, without memory or CPU limits.");
    return out;
  }
  if (!root) {
    out.userNamespaces = true;
    out.facts.push_back("namespaces: user (uid 993 inside is uid " + std::to_string(::getuid()) +
                        " outside), pid, mount, uts, ipc, net; no capabilities; seccomp; read-only root; masked: "
                        "data dir, /root, /home, /etc/shadow, ...");
    out.warnings.push_back(
        "the daemon is not root: environments are isolated with user namespaces but get no cgroups, so memory, "
        "CPU and process limits are not enforced, Max Memory Used is not measured and idle environments are not "
        "frozen. Run lamina as root for full isolation.");
    return out;
  }
  out.facts.push_back(
      "namespaces: pid, mount, uts, ipc, net; uid 993 without capabilities; seccomp; read-only root; "
      "masked: data dir, /root, /home, /etc/shadow, ...");

  std::string instance =
      cgroupInstance.empty() ? "d" + core::toHex(core::sha256(dataDir.string())).substr(0, 16) : cgroupInstance;
  auto cgroups = sandbox::CgroupManager::open("/sys/fs/cgroup", instance);
  if (!cgroups) {
    out.warnings.push_back("no usable cgroups (" + cgroups.error().message() +
                           "): memory, CPU and process limits are not enforced, Max Memory Used is approximate and "
                           "idle environments are not frozen");
    return out;
  }
  out.cgroups = std::move(*cgroups);
  out.facts.push_back("cgroup " + std::string(out.cgroups->version()) + " under /sys/fs/cgroup/.../lamina/" + instance);
  if (int reaped = out.cgroups->staleGroupsReaped(); reaped > 0)
    out.facts.push_back("reaped " + std::to_string(reaped) + " environment(s) left by a previous run");
  for (const auto& w : out.cgroups->warnings()) out.warnings.push_back(w);
  return out;
}

int checkIsolation(const std::filesystem::path& dataDir) {
  // Its own cgroup instance: the data dir's would reap a running daemon's environments.
  auto setup = setUpIsolation("auto", dataDir, "check-" + std::to_string(::getpid()));
  if (!setup) {
    std::printf("error: %s\n", setup.error().message().c_str());
    return 1;
  }
  std::printf("sandbox: %s\n", std::string(setup->sandbox->name()).c_str());
  for (const auto& f : setup->facts) std::printf("  ok: %s\n", f.c_str());
  for (const auto& w : setup->warnings) std::printf("  MISSING: %s\n", w.c_str());
  bool full = setup->namespaces && setup->cgroups && setup->warnings.empty();
  std::printf("%s\n", full ? "full isolation available" : "isolation is incomplete (see MISSING above)");
  return full ? 0 : 1;
}

}  // namespace lamina::server
