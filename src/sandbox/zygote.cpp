// The daemon's side of a zygote (zygote.h): one fork request, its relay records.
#include "sandbox/zygote.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "sandbox/cgroup.h"
#include "sandbox/fd_passing.h"

namespace lamina::sandbox {

namespace {

using core::UniqueFd;

constexpr int kForkTimeoutMs = 10'000;
constexpr size_t kMaxSpec = 256 * 1024;

// One relay record and the descriptor that came with it (the "P" record's pidfd).
struct Record {
  std::string bytes;
  UniqueFd fd;
};

// Waits up to `timeoutMs` for a record; an empty one means EOF.
Result<Record> readRecord(int relay, int timeoutMs) {
  pollfd pfd{relay, POLLIN, 0};
  int ready;
  while ((ready = ::poll(&pfd, 1, timeoutMs)) < 0 && errno == EINTR) {
  }
  if (ready == 0) return fail(Code::kInternal, "zygote: the forked process did not report within 10 s");
  if (ready < 0) return failErrno("zygote: poll", errno);
  char buf[1024];
  std::vector<UniqueFd> fds;
  ssize_t n = recvWithFds(relay, buf, sizeof buf, fds);
  if (n < 0) return failErrno("zygote: reading the relay", errno);
  Record r{std::string(buf, static_cast<size_t>(n)), {}};
  if (!fds.empty()) r.fd = std::move(fds.front());
  return r;
}

// The spec as the keeper reads it: NUL-terminated strings — cwd, argc, argv..., env...
std::string encodeSpec(const ProcessSpec& spec) {
  std::string out;
  auto add = [&out](const std::string& s) {
    out += s;
    out.push_back('\0');
  };
  add(!spec.cwd.empty() ? spec.cwd.string() : "/var/task");
  add(std::to_string(spec.argv.size()));
  for (const auto& a : spec.argv) add(a);
  for (const auto& e : spec.env) add(e);
  return out;
}

}  // namespace

Zygote::Zygote(std::unique_ptr<Process> process, UniqueFd control)
    : process_(std::move(process)), control_(std::move(control)) {}

Zygote::~Zygote() {
  control_.reset();  // the zygote exits on EOF; kill() makes sure
  process_->kill();
}

bool Zygote::alive() const {
  pollfd pfd{process_->exitFd(), POLLIN, 0};
  return ::poll(&pfd, 1, 0) == 0;
}

Result<std::unique_ptr<Keeper>> Zygote::prepare(int initPidfd, Cgroup* cgroup) {
  auto pair = makeSeqpacketPair(static_cast<int>(kMaxSpec + 4096));
  if (!pair) return std::unexpected(pair.error());
  auto& [relay, relayChild] = *pair;
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return failErrno("zygote: pipe2", errno);
  UniqueFd outRead(out[0]), outWrite(out[1]);
  std::vector<UniqueFd> procs;
  if (cgroup != nullptr) {
    auto opened = cgroup->openProcsFiles();
    if (!opened) return std::unexpected(opened.error());
    procs = std::move(*opened);
  }

  // The request: one byte; descriptors relay, init's pidfd, output, procs files.
  std::vector<int> fds = {relayChild.get(), initPidfd, outWrite.get()};
  for (const auto& p : procs) fds.push_back(p.get());
  char byte = 'F';
  ssize_t sent = sendWithFds(control_.get(), &byte, 1, fds);
  if (sent != 1) return failErrno("zygote: sending the fork request (is the zygote gone?)", errno);
  relayChild.reset();
  outWrite.reset();
  procs.clear();

  // The keeper's "P" (the runtime process's pid and pidfd) and the process's "K" (set up, waiting).
  Keeper::Forked forked;
  bool waiting = false;
  while (!waiting || !forked.pidfd.valid()) {
    auto record = readRecord(relay.get(), kForkTimeoutMs);
    if (!record) return std::unexpected(record.error());
    const std::string& b = record->bytes;
    if (b.empty()) return fail(Code::kInternal, "zygote: the keeper exited during its setup");
    if (b[0] == 'P' && b.size() == 1 + sizeof(int32_t) && record->fd.valid()) {
      int32_t pid;
      std::memcpy(&pid, b.data() + 1, sizeof pid);
      forked.pid = pid;
      forked.pidfd = std::move(record->fd);
    } else if (b[0] == 'K') {
      waiting = true;
    } else if (b[0] == 'E') {
      return fail(Code::kInternal, "zygote: " + b.substr(1));
    } else {
      return fail(Code::kInternal, "zygote: the runtime process exited during its setup");
    }
  }
  ::fcntl(outRead.get(), F_SETFL, O_NONBLOCK);
  forked.relay = std::move(relay);
  forked.output = std::move(outRead);
  return std::make_unique<Keeper>(std::move(forked));
}

Result<Keeper::Forked> Keeper::start(const ProcessSpec& spec) {
  if (!forked_.relay.valid()) return fail(Code::kInternal, "zygote: keeper already started");
  std::string encoded = encodeSpec(spec);
  if (encoded.size() > kMaxSpec) return fail(Code::kInternal, "zygote: argv and environment too large");
  int relay = forked_.relay.get();
  if (::send(relay, encoded.data(), encoded.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(encoded.size()))
    return failErrno("zygote: writing the spec (is the keeper gone?)", errno);
  auto record = readRecord(relay, kForkTimeoutMs);
  if (!record) return std::unexpected(record.error());
  const std::string& b = record->bytes;
  if (b.empty() || b[0] == 'X') return fail(Code::kInternal, "zygote: the runtime process exited during its setup");
  if (b[0] == 'E') return fail(Code::kInternal, "zygote: " + b.substr(1));
  if (b[0] != 'S') return fail(Code::kInternal, "zygote: unexpected relay record");
  return std::move(forked_);
}

Result<std::unique_ptr<Zygote>> Sandbox::startZygote([[maybe_unused]] const ProcessSpec& spec) {
  return fail(Code::kInternal, "the " + std::string(name()) + " sandbox has no zygotes");
}

std::optional<int> readRelayedStatus(int relay) {
  char buf[64];
  ssize_t n;
  while ((n = ::recv(relay, buf, sizeof buf, MSG_DONTWAIT)) < 0 && errno == EINTR) {
  }
  if (n < 0) return std::nullopt;  // EAGAIN: still running
  if (n == 1 + static_cast<ssize_t>(sizeof(int32_t)) && buf[0] == 'X') {
    int32_t status;
    std::memcpy(&status, buf + 1, sizeof status);
    return status;
  }
  if (n == 0) return SIGKILL;  // the keeper died (killed with the environment's group): "signal: killed"
  return std::nullopt;         // a stray record; the next read decides
}

}  // namespace lamina::sandbox
