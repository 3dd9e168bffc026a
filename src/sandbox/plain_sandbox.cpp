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

class PlainSandbox final : public Sandbox {
 public:
  std::string_view name() const override { return "process"; }

  Result<std::unique_ptr<Process>> spawn(const ProcessSpec& spec) override {
    int pipefd[2];
    if (::pipe2(pipefd, O_CLOEXEC) != 0) return failErrno("pipe2", errno);
    UniqueFd readEnd(pipefd[0]), writeEnd(pipefd[1]);

    // Everything the child needs is prepared before fork: after it only async-signal-safe calls.
    std::vector<char*> argv, envp;
    for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    for (const auto& e : spec.env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    std::string cwd = spec.cwd.string();
    pid_t parent = ::getpid();

    pid_t pid = ::fork();
    if (pid < 0) return failErrno("fork", errno);
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      ::setsid();
      sigset_t all;
      sigemptyset(&all);
      ::sigprocmask(SIG_SETMASK, &all, nullptr);
      int devnull = ::open("/dev/null", O_RDONLY);
      if (devnull >= 0) ::dup2(devnull, 0);
      ::dup2(writeEnd.get(), 1);
      ::dup2(writeEnd.get(), 2);
      ::syscall(SYS_close_range, 3, ~0U, 0);
      if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(126);
      ::execve(spec.executable.c_str(), argv.data(), envp.data());
      const char msg[] = "lamina: exec failed\n";
      [[maybe_unused]] auto n = ::write(1, msg, sizeof(msg) - 1);
      ::_exit(127);
    }
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
