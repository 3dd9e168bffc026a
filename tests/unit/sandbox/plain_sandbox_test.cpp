#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "sandbox/sandbox.h"

namespace lamina::sandbox {

namespace {

// Waits for the process to exit (its exit fd becomes readable) and reaps it.
int waitExit(Process& p) {
  pollfd pfd{p.exitFd(), POLLIN, 0};
  EXPECT_EQ(::poll(&pfd, 1, 10000), 1);
  auto status = p.tryReap();
  EXPECT_TRUE(status.has_value());
  return status.value_or(-1);
}

std::string readAll(int fd) {
  std::string out;
  char buf[4096];
  pollfd pfd{fd, POLLIN, 0};
  while (::poll(&pfd, 1, 2000) == 1) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, size_t(n));
  }
  return out;
}

}  // namespace

TEST(PlainSandbox, RunsWithGivenEnvironmentCwdAndMergedOutput) {
  auto sb = makePlainSandbox();
  ProcessSpec spec;
  spec.executable = "/bin/sh";
  spec.argv = {"sh", "-c", "echo out:$GREETING; pwd; echo err >&2; exit 7"};
  spec.env = {"GREETING=hi", "PATH=/usr/bin:/bin"};
  spec.cwd = "/tmp";
  auto p = sb->spawn(spec);
  ASSERT_TRUE(p.has_value()) << p.error().message();
  int status = waitExit(**p);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 7);
  EXPECT_EQ(describeWaitStatus(status), "exit status 7");
  EXPECT_EQ(readAll((*p)->outputFd()), "out:hi\n/tmp\nerr\n");
}

TEST(PlainSandbox, KillReachesTheWholeSession) {
  auto sb = makePlainSandbox();
  ProcessSpec spec;
  spec.executable = "/bin/sh";
  spec.argv = {"sh", "-c", "sleep 60 & echo $!; wait"};
  spec.env = {"PATH=/usr/bin:/bin"};
  auto p = sb->spawn(spec);
  ASSERT_TRUE(p.has_value());
  std::string line;
  char c = 0;
  pollfd pfd{(*p)->outputFd(), POLLIN, 0};  // the output pipe is non-blocking
  while (c != '\n' && ::poll(&pfd, 1, 5000) == 1 && ::read((*p)->outputFd(), &c, 1) == 1)
    if (c != '\n') line.push_back(c);
  ASSERT_FALSE(line.empty());
  pid_t child = std::stoi(line);
  (*p)->kill();
  int status = waitExit(**p);
  EXPECT_EQ(describeWaitStatus(status), "signal: killed");
  // The grandchild was in the same session and died too: gone, or a zombie waiting for init.
  auto alive = [child] {
    std::string stat;
    FILE* f = std::fopen(("/proc/" + std::to_string(child) + "/stat").c_str(), "r");
    if (!f) return false;
    char buf[512] = {};
    size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    stat.assign(buf, n);
    size_t paren = stat.rfind(')');
    return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z';
  };
  for (int i = 0; i < 100 && alive(); ++i) ::usleep(10000);
  EXPECT_FALSE(alive());
}

TEST(PlainSandbox, PeakMemoryIsReportedWhileRunning) {
  auto sb = makePlainSandbox();
  ProcessSpec spec;
  spec.executable = "/bin/sleep";
  spec.argv = {"sleep", "5"};
  auto p = sb->spawn(spec);
  ASSERT_TRUE(p.has_value());
  EXPECT_GT((*p)->peakMemoryBytes(), 0u);
  (*p)->kill();
  waitExit(**p);
}

TEST(PlainSandbox, DescribesSignalsLikeLambda) {
  EXPECT_EQ(describeWaitStatus(SIGSEGV), "signal: segmentation fault");
  EXPECT_EQ(describeWaitStatus(SIGABRT), "signal: aborted");
}

}  // namespace lamina::sandbox
