#include "sandbox/netns.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace lamina::sandbox {

namespace {

using core::UniqueFd;

// Runs `fn` on a new thread and waits for it. The thread is the one that enters another network
// namespace; it exits right after, so no daemon thread is left in a namespace it did not start in
// (a thread's namespace is not restored by anything but another setns()). pthread_create rather
// than std::thread: it reports failure as a value, where std::thread would throw.
template <class F>
Result<void> runOnHelperThread(F& fn) {
  auto trampoline = [](void* arg) -> void* {
    (*static_cast<F*>(arg))();
    return nullptr;
  };
  pthread_t thread;
  int err = ::pthread_create(&thread, nullptr, trampoline, &fn);
  if (err != 0) return failErrno("starting namespace helper thread", err);
  ::pthread_join(thread, nullptr);
  return {};
}

}  // namespace

int bringUpLoopback() {
  int sock = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return errno;
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, "lo", 3);
  int err = 0;
  if (::ioctl(sock, SIOCGIFFLAGS, &ifr) != 0) {
    err = errno;
  } else {
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP | IFF_RUNNING);
    if (::ioctl(sock, SIOCSIFFLAGS, &ifr) != 0) err = errno;
  }
  ::close(sock);
  return err;
}

Result<NetNamespace> createNetNamespace() {
  Result<NetNamespace> out = fail(Code::kInternal, "network namespace helper did not run");
  auto job = [&out] {
    if (::unshare(CLONE_NEWNET) != 0) {
      out = failErrno("unshare(CLONE_NEWNET)", errno);
      return;
    }
    // thread-self, not self: only this thread moved; /proc/self/ns/net names the main thread's.
    UniqueFd fd(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) {
      out = failErrno("opening /proc/thread-self/ns/net", errno);
      return;
    }
    if (int err = bringUpLoopback(); err != 0) {
      out = failErrno("bringing up lo in the new network namespace", err);
      return;
    }
    out = NetNamespace{std::move(fd)};
  };
  if (auto started = runOnHelperThread(job); !started) return std::unexpected(started.error());
  return out;
}

Result<UniqueFd> listenInNamespace(int netnsFd, const std::string& ip, uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (::inet_pton(AF_INET, ip.c_str(), &addr.sin_addr) != 1) {
    return fail(Code::kInternal, "listenInNamespace: not an IPv4 address: " + ip);
  }
  std::string where = ip + ":" + std::to_string(port);
  Result<UniqueFd> out = fail(Code::kInternal, "network namespace helper did not run");
  auto job = [&] {
    if (::setns(netnsFd, CLONE_NEWNET) != 0) {
      out = failErrno("setns(CLONE_NEWNET)", errno);
      return;
    }
    UniqueFd sock(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!sock.valid()) {
      out = failErrno("socket", errno);
      return;
    }
    int one = 1;
    if (::setsockopt(sock.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) {
      out = failErrno("SO_REUSEADDR", errno);
      return;
    }
    if (::bind(sock.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
      out = failErrno("binding " + where + " in the environment's network namespace", errno);
      return;
    }
    if (::listen(sock.get(), SOMAXCONN) != 0) {
      out = failErrno("listening on " + where, errno);
      return;
    }
    out = std::move(sock);
  };
  if (auto started = runOnHelperThread(job); !started) return std::unexpected(started.error());
  return out;
}

}  // namespace lamina::sandbox
