#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "core/unique_fd.h"
#include "sandbox/sandbox.h"

namespace lamina::sandbox {

namespace {

using core::UniqueFd;

class PlainProcess final : public Process {
 public:
  PlainProcess(pid_t pid, UniqueFd pidfd, UniqueFd output)
      : pid_(pid), pidfd_(std::move(pidfd)), output_(std::move(output)) {}
  ~PlainProcess() override {
    kill();
    if (!reaped_) {
      int status = 0;
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
    }
  }
  pid_t pid() const override { return pid_; }
  int exitFd() const override { return pidfd_.get(); }
  int outputFd() const override { return output_.get(); }
  void kill() override {
    if (reaped_) return;
    // The child is a session leader, so -pid reaches what it started too.
    ::kill(-pid_, SIGKILL);
    ::syscall(SYS_pidfd_send_signal, pidfd_.get(), SIGKILL, nullptr, 0);
  }
  void terminate() override {
    if (!reaped_) ::syscall(SYS_pidfd_send_signal, pidfd_.get(), SIGTERM, nullptr, 0);
  }
  std::optional<int> tryReap() override {
    if (reaped_) return status_;
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r != pid_) return std::nullopt;
    reaped_ = true;
    status_ = status;
    ::kill(-pid_, SIGKILL);  // orphans left in the session die with their leader
    return status;
  }
  uint64_t peakMemoryBytes() const override {
    if (reaped_) return 0;
    std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
    }
    return 0;
  }

 private:
  pid_t pid_;
  UniqueFd pidfd_;
  UniqueFd output_;
  bool reaped_ = false;
  int status_ = 0;
};

struct ChildArgs {
  const char* executable;
  char** argv;
  char** envp;
  const char* cwd;
  int output;
  pid_t parent;
};

// The child side: only syscalls on data prepared by the parent, then execve or _exit.
[[noreturn]] void runChild(const ChildArgs& a) {
  // Dispositions survive exec when ignored (the daemon ignores SIGPIPE): give the runtime defaults.
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    ::sigaction(sig, &dfl, nullptr);
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != a.parent) ::_exit(127);
  ::setsid();
  int devnull = ::open("/dev/null", O_RDONLY);
  if (devnull >= 0) ::dup2(devnull, 0);
  ::dup2(a.output, 1);
  ::dup2(a.output, 2);
  ::syscall(SYS_close_range, 3, ~0U, 0);
  if (a.cwd[0] != '\0' && ::chdir(a.cwd) != 0) ::_exit(126);
  ::execve(a.executable, a.argv, a.envp);
  const char msg[] = "lamina: exec failed\n";
  [[maybe_unused]] auto n = ::write(1, msg, sizeof(msg) - 1);
  ::_exit(127);
}

// vfork: the child borrows the daemon's address space until execve, so a large daemon pays no
// page-table copy per cold start. Signals stay blocked across it so no handler of ours can run
// in the child; the child restores defaults itself.
pid_t vforkExec(const ChildArgs& args) {
  sigset_t all, old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t pid = ::vfork();
  if (pid == 0) runChild(args);
  int err = errno;
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  errno = err;
  return pid;
}

class PlainSandbox final : public Sandbox {
 public:
  std::string_view name() const override { return "process"; }

  Result<std::unique_ptr<Process>> spawn(const ProcessSpec& spec) override {
    int pipefd[2];
    if (::pipe2(pipefd, O_CLOEXEC) != 0) return failErrno("pipe2", errno);
    UniqueFd readEnd(pipefd[0]), writeEnd(pipefd[1]);

    // Everything the child needs is prepared before vfork: after it only syscalls.
    std::vector<char*> argv, envp;
    for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    for (const auto& e : spec.env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    std::string cwd = spec.cwd.string();

    ChildArgs args{spec.executable.c_str(), argv.data(), envp.data(), cwd.c_str(), writeEnd.get(), ::getpid()};
    pid_t pid = vforkExec(args);
    if (pid < 0) return failErrno("vfork", errno);
    writeEnd.reset();
    int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    if (pidfd < 0) {
      int err = errno;
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      return failErrno("pidfd_open", err);
    }
    ::fcntl(readEnd.get(), F_SETFL, O_NONBLOCK);
    return std::unique_ptr<Process>(new PlainProcess(pid, UniqueFd(pidfd), std::move(readEnd)));
  }
};

}  // namespace

std::unique_ptr<Sandbox> makePlainSandbox() { return std::make_unique<PlainSandbox>(); }

std::string describeWaitStatus(int status) {
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    // Go's signal names, as Lambda's platform (written in Go) prints them.
    switch (sig) {
      case SIGKILL:
        return "signal: killed";
      case SIGSEGV:
        return "signal: segmentation fault";
      case SIGABRT:
        return "signal: aborted";
      case SIGTERM:
        return "signal: terminated";
      case SIGBUS:
        return "signal: bus error";
      case SIGILL:
        return "signal: illegal instruction";
      case SIGFPE:
        return "signal: floating point exception";
      default:
        return "signal: " + std::string(sigdescr_np(sig) ? sigdescr_np(sig) : "unknown");
    }
  }
  return "unknown status " + std::to_string(status);
}

}  // namespace lamina::sandbox
