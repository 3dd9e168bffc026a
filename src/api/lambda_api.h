// LambdaApi: the Lambda control-plane REST API (2015-03-31 family), Invoke (synchronous through the
// Invoker, asynchronous through the AsyncQueue) and the event invoke configuration. Each handler turns a
// request into a typed call on the FunctionRegistry or the Invoker and renders Lambda's JSON.
// Routing is by method and path exactly as botocore and the JS SDK send them (with and without the
// trailing slash older clients add).
//
// Threading: the I/O thread only. Registry and invoker must outlive it.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <string>

#include "api/function_registry.h"
#include "http/message.h"
#include "invoke/invoker.h"

namespace lamina::invoke {
class AsyncQueue;
}

namespace lamina::api {

struct ApiOptions {
  int accountConcurrency = 1000;
  std::string codeUrlSecret;  // signs GetFunction's Code.Location download URLs
};

class LambdaApi {
 public:
  LambdaApi(FunctionRegistry& registry, invoke::Invoker& invoker, invoke::AsyncQueue& async, const core::Clock& clock,
            ApiOptions options)
      : registry_(registry), invoker_(invoker), async_(async), clock_(clock), options_(std::move(options)) {}

  // A SigV4-verified Lambda request. `region` comes from the signature's scope.
  boost::asio::awaitable<http::Response> handle(http::Request& req, const std::string& region,
                                                const std::string& requestId);
  // GET /_lamina/code/<sha>.zip?Expires=..&Signature=..: the download behind Code.Location.
  boost::asio::awaitable<http::Response> downloadCode(const http::Request& req, const std::string& requestId);

 private:
  boost::asio::awaitable<Result<http::Response>> route(http::Request& req, const std::string& region,
                                                       const std::string& requestId);
  boost::asio::awaitable<Result<http::Response>> createFunction(http::Request& req, const std::string& region);
  boost::asio::awaitable<Result<http::Response>> invoke(http::Request& req, const std::string& fn,
                                                        const std::string& region, const std::string& requestId);
  // InvocationType Event (and InvokeAsync): queue durably, answer 202 (lambda_api_async.cpp).
  boost::asio::awaitable<Result<http::Response>> invokeEvent(http::Request& req, const FunctionEntry& entry,
                                                             const std::string& qualifier,
                                                             const std::string& requestId);
  // /2019-09-25/functions/{fn}/event-invoke-config[/list] (lambda_api_async.cpp).
  boost::asio::awaitable<Result<http::Response>> eventInvokeConfig(http::Request& req, const std::string& fn,
                                                                   const std::string& rest, const std::string& region);
  Result<http::Response> getFunction(const http::Request& req, const std::string& fn, const std::string& region,
                                     bool configurationOnly);
  Result<http::Response> listFunctions(const http::Request& req);
  Result<http::Response> accountSettings();
  // The function named by a FunctionName parameter; `qualifierOut` gets the qualifier in effect
  // (from the name or the Qualifier parameter; "" when none).
  Result<const FunctionEntry*> lookup(const std::string& fnParam, const std::string& region, std::string qualifier,
                                      bool invokeStyle, size_t maxLength = 140, std::string* qualifierOut = nullptr);
  boost::asio::awaitable<Result<http::Response>> versionsAndAliases(http::Request& req, const FunctionEntry& entry,
                                                                    const std::string& rest);
  Result<http::Response> listVersions(const http::Request& req, const FunctionEntry& entry);
  boost::asio::awaitable<Result<http::Response>> provisionedConcurrency(http::Request& req, const FunctionEntry& entry);
  boost::json::object provisionedJson(const FunctionEntry& entry, const std::string& qualifier,
                                      const ProvisionedConfig& config) const;
  std::string codeLocation(const http::Request& req, const FunctionRecord& r) const;

  FunctionRegistry& registry_;
  invoke::Invoker& invoker_;
  invoke::AsyncQueue& async_;
  const core::Clock& clock_;
  ApiOptions options_;
};

}  // namespace lamina::api
