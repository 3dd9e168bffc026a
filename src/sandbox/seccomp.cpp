#include "sandbox/seccomp.h"

#include <sched.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string>

#include "core/unique_fd.h"

namespace lamina::sandbox {

namespace {

// Refused with EPERM, as if the function lacked the privilege (it does).
constexpr const char* kDenied[] = {
    // Filesystem view: the sandbox's mounts are final. The new mount API too, or it is a bypass.
    "mount", "umount2", "pivot_root", "chroot", "fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree",
    "mount_setattr",
    // Namespaces.
    "unshare", "setns",
    // Other processes and the kernel itself.
    "ptrace", "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "bpf", "perf_event_open",
    "userfaultfd", "open_by_handle_at", "syslog", "acct", "reboot", "swapon", "swapoff",
    // Keyrings are not namespaced.
    "keyctl", "add_key", "request_key",
    // The clock is the host's. (adjtimex stays: glibc's ntp_gettime reads through it.)
    "settimeofday", "clock_settime",
    // Raw I/O ports (x86 only; skipped where the architecture has no such call).
    "iopl", "ioperm"};

// Namespace-creating clone flags. CLONE_NEWTIME (0x80) is left out: for clone() that bit is part
// of the exit-signal byte, and clone() cannot create a time namespace anyway.
constexpr unsigned long kNamespaceFlags[] = {CLONE_NEWNS,  CLONE_NEWUTS, CLONE_NEWIPC,   CLONE_NEWUSER,
                                             CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP};

struct CtxRelease {
  void operator()(void* ctx) const { seccomp_release(ctx); }
};

Result<void> check(int rc, const std::string& what) {
  // libseccomp returns -errno.
  if (rc < 0) return failErrno("seccomp: " + what, -rc);
  return {};
}

}  // namespace

Result<std::vector<sock_filter>> compileSeccompFilter() {
  std::unique_ptr<void, CtxRelease> ctx(seccomp_init(SCMP_ACT_ALLOW));
  if (!ctx) return fail(Code::kInternal, "seccomp: seccomp_init failed");
  for (const char* name : kDenied) {
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) continue;  // not a system call on this architecture
    if (auto r = check(seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(EPERM), nr, 0), name); !r) {
      return std::unexpected(r.error());
    }
  }
  // clone() with any namespace flag fails; plain fork/thread clones pass. Rules for one syscall
  // are OR-ed, so one rule per flag.
  for (unsigned long flag : kNamespaceFlags) {
    auto r = check(
        seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1, SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag)),
        "clone rule");
    if (!r) return std::unexpected(r.error());
  }
  // clone3 passes its flags in memory, which seccomp cannot read. ENOSYS makes glibc (fork,
  // pthread_create, posix_spawn) fall back to clone(), whose flags the rules above can check.
  if (auto r = check(seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0), "clone3 rule"); !r) {
    return std::unexpected(r.error());
  }

  // libseccomp 2.5 exports only to a file descriptor (seccomp_export_bpf_mem came in 2.6).
  core::UniqueFd mem(::memfd_create("lamina-seccomp", MFD_CLOEXEC));
  if (!mem.valid()) return failErrno("seccomp: memfd_create", errno);
  if (auto r = check(seccomp_export_bpf(ctx.get(), mem.get()), "exporting BPF"); !r) return std::unexpected(r.error());
  struct stat st {};
  if (::fstat(mem.get(), &st) != 0) return failErrno("seccomp: fstat", errno);
  if (st.st_size <= 0 || st.st_size % sizeof(sock_filter) != 0) {
    return fail(Code::kInternal, "seccomp: exported program has odd size " + std::to_string(st.st_size));
  }
  std::vector<sock_filter> program(static_cast<size_t>(st.st_size) / sizeof(sock_filter));
  ssize_t n = ::pread(mem.get(), program.data(), static_cast<size_t>(st.st_size), 0);
  if (n != st.st_size) return failErrno("seccomp: reading exported program", n < 0 ? errno : EIO);
  return program;
}

}  // namespace lamina::sandbox
