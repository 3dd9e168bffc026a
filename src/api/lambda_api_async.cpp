// LambdaApi's asynchronous side: Invoke with InvocationType Event, the deprecated InvokeAsync, and
// the FunctionEventInvokeConfig operations (Put/Update/Get/Delete/List). Error texts follow
// recordings of real AWS (LocalStack's test_lambda_api snapshots).
#include "api/lambda_api.h"
#include "api/request_helpers.h"
#include "api/validation.h"
#include "core/crypto.h"
#include "core/json.h"
#include "core/strings.h"
#include "invoke/async_queue.h"

namespace lamina::api {

namespace asio = boost::asio;
namespace json = boost::json;

asio::awaitable<Result<http::Response>> LambdaApi::eventInvokeConfig(http::Request& req, const std::string& fnParam,
                                                                     const std::string& rest,
                                                                     const std::string& region) {
  const std::string& m = req.method;
  std::string qualifier;
  auto e = lookup(fnParam, region, queryParam(req, "Qualifier"), false, 140, &qualifier);
  if (qualifier.empty()) qualifier = "$LATEST";
  // AWS names the qualified function in its "no config" answers even when the function is absent.
  auto noConfig = [&]() {
    auto ref = parseFunctionRef(fnParam);
    std::string name = ref ? ref->name : fnParam;
    return fail(Code::kResourceNotFound,
                "The function " + functionArn(region, name) + ":" + qualifier + " doesn't have an EventInvokeConfig");
  };
  auto functionMissing = [&](const Error& err) -> Error {
    if (err.code() == Code::kResourceNotFound) return Error(Code::kResourceNotFound, "The function doesn't exist.");
    return err;
  };

  if (rest == "event-invoke-config/list") {
    if (m != "GET")
      co_return fail(Code::kUnknownOperation, "No operation matches " + m + " " + std::string(req.path()));
    if (!e) co_return std::unexpected(functionMissing(e.error()));
    auto page = pageOf(req);
    if (!page) co_return std::unexpected(page.error());
    json::array configs;
    std::string last;
    bool more = false;
    const auto& all = (*e)->eventInvokeConfigs;
    for (auto it = page->after.empty() ? all.begin() : all.upper_bound(page->after); it != all.end(); ++it) {
      if (int64_t(configs.size()) == page->size) {
        more = true;
        break;
      }
      configs.push_back(it->second.toJson((*e)->record.arn() + ":" + it->first));
      last = it->first;
    }
    json::object out{{"FunctionEventInvokeConfigs", std::move(configs)}};
    if (more) out["NextMarker"] = core::base64Encode(last);
    co_return jsonResponse(200, out);
  }

  if (m == "GET" || m == "DELETE") {
    if (!e) {
      if (e.error().code() == Code::kResourceNotFound) co_return noConfig();
      co_return std::unexpected(e.error());
    }
    auto it = (*e)->eventInvokeConfigs.find(qualifier);
    if (it == (*e)->eventInvokeConfigs.end()) co_return noConfig();
    if (m == "GET") co_return jsonResponse(200, it->second.toJson((*e)->record.arn() + ":" + qualifier));
    auto removed = co_await registry_.setEventInvokeConfig((*e)->record.name, qualifier, std::nullopt);
    if (!removed) co_return std::unexpected(removed.error());
    co_return emptyResponse(204);
  }
  if (m != "PUT" && m != "POST")
    co_return fail(Code::kUnknownOperation, "No operation matches " + m + " " + std::string(req.path()));

  // Put replaces the whole configuration; Update (POST) merges into the existing one.
  auto body = core::parseJsonObject(req.body.empty() ? std::string("{}") : req.body);
  if (!body) co_return std::unexpected(body.error());
  auto input = parseEventInvokeConfig(*body);
  if (!input) co_return std::unexpected(input.error());
  EventInvokeConfig config = std::move(input->config);
  if (!e) co_return std::unexpected(functionMissing(e.error()));
  const FunctionEntry& entry = **e;
  if (qualifier != "$LATEST" && !registry_.resolve(entry, qualifier, false))
    co_return fail(Code::kResourceNotFound, "The function doesn't exist.");

  for (const std::string* arn : {&config.onSuccess, &config.onFailure}) {
    if (arn->empty()) continue;
    auto parts = core::split(*arn, ':');
    std::string_view service = parts.size() > 2 ? parts[2] : std::string_view();
    if (service == "sqs" || service == "sns" || service == "events" || service == "s3")
      co_return fail(Code::kInvalidParameterValue,
                     "lamina cannot deliver to " + std::string(service) +
                         " destinations yet (the embedded SQS service comes later): use a Lambda function ARN as the "
                         "destination");
    if (service != "lambda")
      co_return fail(Code::kInvalidParameterValue,
                     "The provided destination config " + input->described + " is invalid.");
    auto ref = parseFunctionRef(*arn, 170);
    if (ref && ref->name == entry.record.name)
      co_return fail(Code::kInvalidParameterValue, "You can't specify the function as a destination for itself.");
    const FunctionEntry* target = ref ? registry_.find(ref->name) : nullptr;
    if (!target || (!ref->qualifier.empty() && !registry_.resolve(*target, ref->qualifier, false)))
      co_return fail(Code::kInvalidParameterValue, "The destination ARN " + *arn + " is invalid.");
  }

  if (m == "POST") {
    auto it = entry.eventInvokeConfigs.find(qualifier);
    if (it == entry.eventInvokeConfigs.end()) co_return noConfig();
    EventInvokeConfig merged = it->second;
    if (config.maxRetries >= 0) merged.maxRetries = config.maxRetries;
    if (config.maxAgeSec >= 0) merged.maxAgeSec = config.maxAgeSec;
    if (input->successGiven) merged.onSuccess = config.onSuccess;
    if (input->failureGiven) merged.onFailure = config.onFailure;
    config = std::move(merged);
  }
  config.lastModifiedMs = clock_.nowMs();
  const std::string name = entry.record.name, arn = entry.record.arn() + ":" + qualifier;
  json::object shown = config.toJson(arn);
  auto written = co_await registry_.setEventInvokeConfig(name, qualifier, std::move(config));
  if (!written) co_return std::unexpected(written.error());
  co_return jsonResponse(200, shown);
}

asio::awaitable<Result<http::Response>> LambdaApi::invokeEvent(http::Request& req, const FunctionEntry& entry,
                                                               const std::string& qualifier,
                                                               const std::string& requestId) {
  if (req.body.size() > invoke::kMaxAsyncPayloadBytes)
    co_return fail(Code::kRequestTooLarge, std::to_string(req.body.size()) +
                                               " byte payload is too large for the Event invocation type (limit " +
                                               std::to_string(invoke::kMaxAsyncPayloadBytes) + " bytes)");
  std::string payload = req.body.empty() ? std::string("{}") : std::move(req.body);
  auto queued = co_await async_.enqueue(entry.record.name, qualifier, requestId, std::move(payload));
  if (!queued) co_return std::unexpected(queued.error());
  co_return emptyResponse(202);
}

}  // namespace lamina::api
