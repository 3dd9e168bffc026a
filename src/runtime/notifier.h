// Notifier: wakes coroutines waiting on one io_context (single-threaded: no locks). A waiter
// sleeps until notify() or its deadline; callers re-check their condition in a loop (spurious
// wake-ups are harmless). Any number of waiters, each with its own timer; notify() wakes all.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <list>

namespace lamina::runtime {

class Notifier {
 public:
  using Clock = std::chrono::steady_clock;
  Notifier() = default;
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;
  ~Notifier() { notify(); }

  // Waits until notify() or `deadline`. True when woken by notify() (or destruction).
  boost::asio::awaitable<bool> waitUntil(Clock::time_point deadline) {
    boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor);
    timer.expires_at(deadline);
    Waiter w{&timer, false};
    auto it = waiters_.insert(waiters_.end(), &w);
    co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    if (!w.notified) waiters_.erase(it);
    co_return w.notified;
  }
  boost::asio::awaitable<bool> wait() { return waitUntil(Clock::time_point::max()); }

  void notify() {
    for (Waiter* w : waiters_) {
      w->notified = true;
      w->timer->cancel();
    }
    waiters_.clear();
  }

 private:
  struct Waiter {
    boost::asio::steady_timer* timer;
    bool notified;
  };
  std::list<Waiter*> waiters_;
};

}  // namespace lamina::runtime
