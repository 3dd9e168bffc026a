#include "http/client.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

namespace lamina::http {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using asio::ip::tcp;

Result<Endpoint> parseEndpoint(const std::string& url) {
  std::string rest = url;
  if (rest.rfind("http://", 0) == 0)
    rest = rest.substr(7);
  else if (rest.find("://") != std::string::npos)
    return fail(Code::kInvalidParameterValue, "only http:// endpoints are supported, got '" + url + "'");
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  Endpoint ep;
  size_t colon = rest.rfind(':');
  if (colon == std::string::npos) {
    ep.host = rest;
  } else {
    ep.host = rest.substr(0, colon);
    int port = std::atoi(rest.c_str() + colon + 1);
    if (port <= 0 || port > 65535) return fail(Code::kInvalidParameterValue, "bad port in endpoint '" + url + "'");
    ep.port = uint16_t(port);
  }
  if (ep.host.empty()) return fail(Code::kInvalidParameterValue, "no host in endpoint '" + url + "'");
  return ep;
}

Result<Response> send(const Endpoint& endpoint, const Request& req, std::chrono::seconds timeout) {
  asio::io_context io;
  boost::system::error_code ec;
  tcp::resolver resolver(io);
  auto results = resolver.resolve(endpoint.host, std::to_string(endpoint.port), ec);
  if (ec) return fail(Code::kServiceUnavailable, "cannot resolve " + endpoint.host + ": " + ec.message());
  tcp::socket socket(io);
  asio::connect(socket, results, ec);
  if (ec)
    return fail(Code::kServiceUnavailable, "cannot reach lamina at " + endpoint.hostHeader() + " (" + ec.message() +
                                               "); start it with `make run` or `lamina server`, or pass --endpoint");
  timeval tv{};
  tv.tv_sec = timeout.count();
  ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  socket.set_option(tcp::no_delay(true), ec);

  bhttp::request<bhttp::string_body> msg;
  msg.method_string(req.method);
  msg.target(req.target);
  msg.version(11);
  for (const auto& [k, v] : req.headers) msg.insert(k, v);
  if (!req.hasHeader("host")) msg.set(bhttp::field::host, endpoint.hostHeader());
  msg.body() = req.body;
  msg.prepare_payload();
  msg.keep_alive(false);
  bhttp::write(socket, msg, ec);
  if (ec) return fail(Code::kServiceUnavailable, "sending to " + endpoint.hostHeader() + ": " + ec.message());
  boost::beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(256 * 1024 * 1024);
  bhttp::read(socket, buffer, parser, ec);
  if (ec)
    return fail(Code::kServiceUnavailable, "reading the answer of " + endpoint.hostHeader() + ": " + ec.message());
  auto& res = parser.get();
  Response out;
  out.status = int(res.result_int());
  for (const auto& f : res) {
    std::string name(f.name_string());
    for (char& c : name)
      if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
    out.headers.emplace_back(std::move(name), std::string(f.value()));
  }
  out.body = std::move(res.body());
  return out;
}

}  // namespace lamina::http
