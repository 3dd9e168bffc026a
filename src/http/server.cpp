#include "http/server.h"

#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <list>

namespace lamina::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using asio::ip::tcp;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

struct Server::State {
  State(asio::io_context& io, ServerOptions o, Handler h) : acceptor(io), options(o), handler(std::move(h)) {}
  tcp::acceptor acceptor;
  ServerOptions options;
  Handler handler;
  bool stopped = false;
  bool draining = false;
  struct Connection {
    beast::tcp_stream* stream;
    bool busy;  // a request is being handled; its response will still be written
  };
  // Open connections, so stop() can close them. Entries are erased by their own session.
  std::list<Connection> connections;
};

namespace {

Request toRequest(bhttp::request<bhttp::string_body>& msg) {
  Request req;
  req.method = std::string(msg.method_string());
  req.target = std::string(msg.target());
  req.headers.reserve(8);
  for (const auto& field : msg) {
    std::string name(field.name_string());
    for (char& c : name)
      if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
    req.headers.emplace_back(std::move(name), std::string(field.value()));
  }
  req.body = std::move(msg.body());
  return req;
}

asio::awaitable<void> session(std::shared_ptr<Server::State> st, tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  auto self = st->connections.insert(st->connections.end(), Server::State::Connection{&stream, false});
  beast::flat_buffer buffer;
  for (;;) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.body_limit(st->options.bodyLimit);
    parser.header_limit(64 * 1024);
    if (st->options.idleTimeout.count() > 0)
      stream.expires_after(st->options.idleTimeout);
    else
      stream.expires_never();
    auto [hec, hn] = co_await bhttp::async_read_header(stream, buffer, parser, kTuple);
    bool tooLarge = hec == bhttp::error::body_limit;  // Content-Length alone says it is too big
    if ((hec && !tooLarge) || st->stopped || st->draining) break;
    self->busy = true;
    if (parser.get()[bhttp::field::expect] == "100-continue") {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(kContinue), kTuple);
      if (wec) break;
    }
    if (!tooLarge && !parser.is_done()) {
      stream.expires_after(std::chrono::seconds(60));
      auto [ec, n] = co_await bhttp::async_read(stream, buffer, parser, kTuple);
      if (ec == bhttp::error::body_limit) {
        tooLarge = true;
      } else if (ec || st->stopped) {
        break;
      }
    }
    stream.expires_never();
    bhttp::request<bhttp::string_body>& msg = parser.get();
    bool keepAlive = msg.keep_alive() && !tooLarge;
    Request req = toRequest(msg);
    req.bodyTooLarge = tooLarge;
    Handler handler = st->handler;  // a copy: stop() may drop the server's while we wait
    if (!handler) break;
    Response res = co_await handler(req);
    if (st->stopped) break;
    bhttp::response<bhttp::string_body> out{static_cast<bhttp::status>(res.status), 11};
    for (auto& [k, v] : res.headers) out.insert(k, v);
    out.body() = std::move(res.body);
    out.keep_alive(keepAlive && !res.closeConnection && !st->draining);
    out.prepare_payload();
    stream.expires_after(std::chrono::seconds(60));
    auto [wec, wn] = co_await bhttp::async_write(stream, out, kTuple);
    self->busy = false;
    if (wec || !out.keep_alive() || st->draining) break;
  }
  st->connections.erase(self);
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream.socket().close(ignored);
}

asio::awaitable<void> acceptLoop(std::shared_ptr<Server::State> st) {
  for (;;) {
    auto [ec, socket] = co_await st->acceptor.async_accept(kTuple);
    if (st->stopped) co_return;
    if (ec) {
      if (ec == asio::error::operation_aborted) co_return;
      continue;  // EMFILE and friends: keep serving the connections we have
    }
    beast::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    asio::co_spawn(st->acceptor.get_executor(), session(st, std::move(socket)), asio::detached);
  }
}

}  // namespace

Server::Server(std::shared_ptr<State> state) : state_(std::move(state)) {}
Server::~Server() { stop(); }

Result<std::unique_ptr<Server>> Server::listen(asio::io_context& io, const std::string& host, uint16_t port,
                                               ServerOptions options, Handler handler) {
  auto st = std::make_shared<State>(io, options, std::move(handler));
  beast::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) return fail(Code::kInvalidParameterValue, "invalid listen address '" + host + "': " + ec.message());
  tcp::endpoint ep(addr, port);
  st->acceptor.open(ep.protocol(), ec);
  if (!ec) st->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) st->acceptor.bind(ep, ec);
  if (!ec) st->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return fail(Code::kInternal, "cannot listen on " + host + ":" + std::to_string(port) + ": " + ec.message(),
                ec.value());
  return std::unique_ptr<Server>(new Server(std::move(st)));
}

Result<std::unique_ptr<Server>> Server::adopt(asio::io_context& io, int listeningFd, ServerOptions options,
                                              Handler handler) {
  auto st = std::make_shared<State>(io, options, std::move(handler));
  beast::error_code ec;
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (::getsockname(listeningFd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(listeningFd);
    return failErrno("getsockname", errno);
  }
  st->acceptor.assign(addr.ss_family == AF_INET6 ? tcp::v6() : tcp::v4(), listeningFd, ec);
  if (ec) {
    ::close(listeningFd);
    return fail(Code::kInternal, "cannot adopt listening socket: " + ec.message(), ec.value());
  }
  return std::unique_ptr<Server>(new Server(std::move(st)));
}

uint16_t Server::port() const {
  beast::error_code ec;
  return state_->acceptor.local_endpoint(ec).port();
}

std::string Server::address() const {
  beast::error_code ec;
  auto ep = state_->acceptor.local_endpoint(ec);
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

void Server::start() { asio::co_spawn(state_->acceptor.get_executor(), acceptLoop(state_), asio::detached); }

void Server::stop() {
  if (!state_ || state_->stopped) return;
  state_->stopped = true;
  state_->handler = nullptr;
  beast::error_code ec;
  state_->acceptor.close(ec);
  for (auto& c : state_->connections) c.stream->socket().close(ec);
}

size_t Server::busyConnections() const {
  size_t n = 0;
  for (auto& c : state_->connections) n += c.busy ? 1 : 0;
  return n;
}

void Server::drain() {
  if (!state_ || state_->stopped || state_->draining) return;
  state_->draining = true;
  beast::error_code ec;
  state_->acceptor.close(ec);
  for (auto& c : state_->connections)
    if (!c.busy) c.stream->socket().close(ec);
}

}  // namespace lamina::http
