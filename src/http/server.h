// Server: an HTTP/1.1 listener that hands each request to a Handler coroutine and writes its
// Response. Used for the edge API (one per daemon) and for every execution environment's Runtime
// API (one per environment). Boost.Beast stays inside server.cpp.
//
// Threading: everything runs on the io_context passed to listen(); call start()/stop() from a
// thread running that context. Connections keep a shared reference to the server's internal
// state, so stop() may be followed by destroying the Server while connections are still winding
// down; the handler is dropped by stop() and is never called after it returns.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/result.h"
#include "http/message.h"

namespace boost::asio {
class io_context;
}

namespace lamina::http {

using Handler = std::function<boost::asio::awaitable<Response>(Request&)>;

struct ServerOptions {
  // Bodies above this are not read: the handler gets Request::bodyTooLarge and the connection closes.
  size_t bodyLimit = 6 * 1024 * 1024;
  // How long a keep-alive connection may sit idle between requests; zero = forever.
  std::chrono::seconds idleTimeout{0};
};

class Server {
 public:
  // Binds and listens on host:port now (port 0 = any free port) so port() is known before start().
  static Result<std::unique_ptr<Server>> listen(boost::asio::io_context& io, const std::string& host, uint16_t port,
                                                ServerOptions options, Handler handler);
  // Serves on an already listening socket (e.g. one created inside an environment's network
  // namespace); takes ownership of `listeningFd`.
  static Result<std::unique_ptr<Server>> adopt(boost::asio::io_context& io, int listeningFd, ServerOptions options,
                                               Handler handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  uint16_t port() const;
  std::string address() const;  // "127.0.0.1:PORT"
  // Starts accepting connections.
  void start();
  // Closes the listener and every open connection; the handler is never called again.
  void stop();
  // Graceful: closes the listener and idle connections; requests being handled still get their
  // responses, then their connections close.
  void drain();
  // Connections whose response has not been written yet.
  size_t busyConnections() const;

  struct State;

 private:
  explicit Server(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

}  // namespace lamina::http
