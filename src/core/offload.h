// offload(pool, fn): runs the blocking callable `fn` on `pool` and resumes the awaiting coroutine
// on its own executor with fn's result. How coroutines on the I/O thread do SQLite writes, unzip,
// fork/exec and file I/O without stalling other connections (STYLE.md "Async and threads").
// Header-only so that core keeps no Asio link dependency.
#pragma once

#include <boost/asio/async_result.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <type_traits>
#include <utility>

namespace lamina::core {

//
// Pass a named callable (`auto job = [..]{..}; co_await offload(pool, std::move(job));`), never a
// lambda expression written inside the co_await: GCC 12 destroys such temporaries twice.
// Deliberately not a coroutine itself, for the same reason.
template <class F, class R = std::invoke_result_t<F&>>
boost::asio::awaitable<R> offload(boost::asio::thread_pool& pool, F&& fn) {
  return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void(R)>(
      [&pool](auto handler, std::decay_t<F> f) {
        boost::asio::post(pool, [h = std::move(handler), f = std::move(f)]() mutable {
          R result = f();
          auto ex = boost::asio::get_associated_executor(h);
          boost::asio::dispatch(ex,
                                [h = std::move(h), r = std::move(result)]() mutable { std::move(h)(std::move(r)); });
        });
      },
      boost::asio::use_awaitable, std::forward<F>(fn));
}

}  // namespace lamina::core
