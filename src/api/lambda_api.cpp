#include "api/lambda_api.h"

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <cctype>

#include "api/request_helpers.h"
#include "api/validation.h"
#include "core/crypto.h"
#include "core/json.h"
#include "core/strings.h"
#include "core/time.h"
#include "http/aws_error.h"

namespace lamina::api {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

// A required integer member of a request body, at least `min`, with AWS's validation messages
// ("Value null at 'reservedConcurrentExecutions' ..."); `field` is the member in camelCase.
Result<int64_t> requiredInt(const json::object& body, std::string_view key, std::string_view field, int64_t min) {
  auto v = core::getInt(body, key);
  if (!v) return std::unexpected(v.error());
  if (!*v)
    return fail(Code::kValidation, "1 validation error detected: Value null at '" + std::string(field) +
                                       "' failed to satisfy constraint: Member must not be null");
  if (**v < min)
    return fail(Code::kValidation, "1 validation error detected: Value '" + std::to_string(**v) + "' at '" +
                                       std::string(field) +
                                       "' failed to satisfy constraint: Member must have value greater than or "
                                       "equal to " +
                                       std::to_string(min));
  return **v;
}

// Splits "/2015-03-31/functions/NAME/rest" → {"NAME", "rest"} with NAME percent-decoded.
bool functionPath(std::string_view path, std::string_view prefix, std::string& name, std::string& rest) {
  if (!core::startsWith(path, prefix)) return false;
  path.remove_prefix(prefix.size());
  size_t slash = path.find('/');
  auto decoded = core::uriDecode(path.substr(0, slash));
  if (!decoded || decoded->empty()) return false;
  name = *decoded;
  rest = slash == std::string_view::npos ? std::string() : std::string(path.substr(slash + 1));
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  return true;
}

Result<std::string> decodeZip(const json::object& code) {
  auto zip = core::getString(code, "ZipFile");
  if (!zip) return std::unexpected(zip.error());
  for (std::string_view other : {"S3Bucket", "S3Key", "ImageUri"}) {
    if (code.contains(other) && !code.at(other).is_null())
      return fail(Code::kInvalidParameterValue,
                  std::string(other) +
                      " is not supported by lamina yet (no embedded S3 or image registry): pass the "
                      "deployment package as ZipFile (the CLI's --zip-file fileb://function.zip).");
  }
  if (!*zip) return fail(Code::kInvalidParameterValue, "Please provide a source for function code.");
  auto bytes = core::base64Decode(**zip);
  if (!bytes)
    return fail(Code::kInvalidParameterValue,
                "Could not unzip uploaded file. Please check your file, then try to upload again.");
  return std::move(*bytes);
}

}  // namespace

asio::awaitable<http::Response> LambdaApi::handle(http::Request& req, const std::string& region,
                                                  const std::string& requestId) {
  auto r = co_await route(req, region, requestId);
  if (!r) co_return http::awsError(r.error(), requestId);
  r->set("x-amzn-RequestId", requestId);
  co_return std::move(*r);
}

Result<const FunctionEntry*> LambdaApi::lookup(const std::string& fnParam, const std::string& region,
                                               std::string qualifier, bool invokeStyle, size_t maxLength,
                                               std::string* qualifierOut) {
  auto ref = parseFunctionRef(fnParam, maxLength);
  if (!ref) return std::unexpected(ref.error());
  if (!ref->qualifier.empty() && !qualifier.empty() && ref->qualifier != qualifier)
    return fail(Code::kInvalidParameterValue,
                "The derived qualifier from the function name does not match the specified qualifier.");
  if (qualifier.empty()) qualifier = ref->qualifier;
  const FunctionEntry* e = registry_.find(ref->name);
  std::string arn = functionArn(e ? e->record.region : region, ref->name);
  if (!e)
    return fail(
        Code::kResourceNotFound,
        "Function not found: " + arn +
            (invokeStyle || !qualifier.empty() ? ":" + (qualifier.empty() ? std::string("$LATEST") : qualifier) : ""));
  if (qualifier.size() > 128 || !std::all_of(qualifier.begin(), qualifier.end(), [](char c) {
        return std::isalnum(uint8_t(c)) || c == '$' || c == '_' || c == '-';
      }))
    return fail(Code::kValidation, "1 validation error detected: Value '" + qualifier +
                                       "' at 'qualifier' failed to satisfy constraint: Member must satisfy regular "
                                       "expression pattern: (|[a-zA-Z0-9$_-]+)");
  if (qualifierOut) *qualifierOut = qualifier;
  return e;
}

asio::awaitable<Result<http::Response>> LambdaApi::route(http::Request& req, const std::string& region,
                                                         const std::string& requestId) {
  std::string_view path = req.path();
  const std::string& m = req.method;
  std::string name, rest;

  if (path == "/2015-03-31/functions" || path == "/2015-03-31/functions/") {
    if (m == "POST") {
      auto r = co_await createFunction(req, region);
      co_return r;
    }
    if (m == "GET") {
      auto r = listFunctions(req);
      co_return r;
    }
  }
  if (path == "/2016-08-19/account-settings" || path == "/2016-08-19/account-settings/") {
    auto r = accountSettings();
    co_return r;
  }
  if (functionPath(path, "/2019-09-25/functions/", name, rest) &&
      (rest == "event-invoke-config" || rest == "event-invoke-config/list"))
    co_return co_await eventInvokeConfig(req, name, rest, region);
  if (functionPath(path, "/2014-11-13/functions/", name, rest) && rest == "invoke-async" && m == "POST") {
    // The deprecated InvokeAsync: the body is the event; answers 202 like Invoke with Event.
    auto e = lookup(name, region, "", true, 170);
    if (!e) co_return std::unexpected(e.error());
    if (!req.body.empty() && !core::parseJson(req.body))
      co_return fail(Code::kInvalidRequestContent, "Could not parse request body into json");
    co_return co_await invokeEvent(req, **e, "", requestId);
  }
  if (functionPath(path, "/2019-09-30/functions/", name, rest) && rest == "provisioned-concurrency") {
    auto e = lookup(name, region, "", false);
    if (!e) co_return std::unexpected(e.error());
    co_return co_await provisionedConcurrency(req, **e);
  }
  if ((functionPath(path, "/2017-10-31/functions/", name, rest) ||
       functionPath(path, "/2019-09-30/functions/", name, rest)) &&
      rest == "concurrency") {
    auto e = lookup(name, region, "", false);
    if (!e) co_return std::unexpected(e.error());
    const std::string fn = (*e)->record.name;
    if (m == "GET") {
      json::object out;
      if ((*e)->record.reservedConcurrency >= 0) out["ReservedConcurrentExecutions"] = (*e)->record.reservedConcurrency;
      co_return jsonResponse(200, out);
    }
    if (m == "DELETE") {
      auto done = co_await registry_.setReservedConcurrency(fn, -1);
      if (!done) co_return std::unexpected(done.error());
      co_return emptyResponse(204);
    }
    if (m == "PUT") {
      auto body = core::parseJsonObject(req.body);
      if (!body) co_return std::unexpected(body.error());
      auto count = requiredInt(*body, "ReservedConcurrentExecutions", "reservedConcurrentExecutions", 0);
      if (!count) co_return std::unexpected(count.error());
      int64_t n = *count;
      auto done = co_await registry_.setReservedConcurrency(fn, int(std::min<int64_t>(n, INT32_MAX)));
      if (!done) co_return std::unexpected(done.error());
      co_return jsonResponse(200, json::object{{"ReservedConcurrentExecutions", n}});
    }
  }
  if (functionPath(path, "/2015-03-31/functions/", name, rest)) {
    std::string qualifier = queryParam(req, "Qualifier");
    if (rest == "invocations" && m == "POST") co_return co_await invoke(req, name, region, requestId);
    if (rest.empty() && m == "GET") {
      auto r = getFunction(req, name, region, false);
      co_return r;
    }
    if (rest == "configuration" && m == "GET") {
      auto r = getFunction(req, name, region, true);
      co_return r;
    }
    if (rest.empty() && m == "DELETE") {
      auto e = lookup(name, region, "", false);
      if (!e) co_return std::unexpected(e.error());
      if (qualifier == "$LATEST")
        co_return fail(Code::kInvalidParameterValue,
                       "$LATEST version cannot be deleted without deleting the function.");
      if (!qualifier.empty()) {
        bool number = isVersionNumber(qualifier);
        if (!number && (*e)->aliases.count(qualifier))
          co_return fail(Code::kInvalidParameterValue,
                         "Deletion of aliases is not supported by DeleteFunction; use DeleteAlias.");
        if (!number)
          co_return fail(Code::kResourceNotFound, "Function not found: " + (*e)->record.arn() + ":" + qualifier);
        auto removed = co_await registry_.removeVersion((*e)->record.name, std::stoll(qualifier));
        if (!removed) co_return std::unexpected(removed.error());
        co_return emptyResponse(204);
      }
      auto removed = co_await registry_.remove((*e)->record.name);
      if (!removed) co_return std::unexpected(removed.error());
      co_return emptyResponse(204);
    }
    if (rest == "versions" || rest == "aliases" || core::startsWith(rest, "aliases/")) {
      auto e = lookup(name, region, "", false, rest == "versions" && m == "GET" ? 170 : 140);
      if (!e) co_return std::unexpected(e.error());
      co_return co_await versionsAndAliases(req, **e, rest);
    }
    if ((rest == "code" || rest == "configuration") && m == "PUT") {
      auto e = lookup(name, region, "", false);
      if (!e) co_return std::unexpected(e.error());
      auto body = core::parseJsonObject(req.body);
      if (!body) co_return std::unexpected(body.error());
      Result<FunctionRecord> updated = fail(Code::kInternal, "unreachable");
      bool publishAfter = false;
      if (rest == "code") {
        auto publish = core::getBool(*body, "Publish");
        if (!publish) co_return std::unexpected(publish.error());
        publishAfter = publish->value_or(false);
        auto dryRun = core::getBool(*body, "DryRun");
        if (!dryRun) co_return std::unexpected(dryRun.error());
        auto zip = decodeZip(*body);
        if (!zip) co_return std::unexpected(zip.error());
        auto rev = core::getString(*body, "RevisionId");
        if (!rev) co_return std::unexpected(rev.error());
        if (dryRun->value_or(false)) {
          json::object cfg = (*e)->record.toConfiguration();
          co_return jsonResponse(200, cfg);
        }
        updated = co_await registry_.updateCode((*e)->record.name, std::move(*zip), rev->value_or(""));
      } else {
        updated = co_await registry_.updateConfiguration((*e)->record.name, *body);
      }
      if (!updated) co_return std::unexpected(updated.error());
      if (publishAfter) {  // the response is the new version's configuration
        updated = co_await registry_.publishVersion(updated->name, "", "", "");
        if (!updated) co_return std::unexpected(updated.error());
      }
      co_return jsonResponse(200, updated->toConfiguration());
    }
  }
  co_return fail(Code::kUnknownOperation, "No operation matches " + m + " " + std::string(path) +
                                              "; lamina serves the Lambda API at /2015-03-31/...");
}

asio::awaitable<Result<http::Response>> LambdaApi::createFunction(http::Request& req, const std::string& region) {
  auto body = core::parseJsonObject(req.body);
  if (!body) co_return std::unexpected(body.error());
  auto nameField = core::getString(*body, "FunctionName");
  if (!nameField) co_return std::unexpected(nameField.error());
  if (!*nameField)
    co_return fail(Code::kValidation,
                   "1 validation error detected: Value null at 'functionName' failed to satisfy constraint: Member "
                   "must not be null");
  auto ref = parseFunctionRef(**nameField);
  if (!ref) co_return std::unexpected(ref.error());
  if (!ref->qualifier.empty())
    co_return fail(Code::kInvalidParameterValue,
                   "Unsupported FunctionName: a qualifier cannot be used when creating a function.");
  if (auto p = body->find("PackageType");
      p != body->end() && p->value().is_string() && p->value().as_string() == "Image")
    co_return fail(Code::kInvalidParameterValue,
                   "PackageType Image is not supported by lamina: deploy a .zip package.");
  auto publish = core::getBool(*body, "Publish");
  if (!publish) co_return std::unexpected(publish.error());

  FunctionRecord record;
  record.name = ref->name;
  record.region = region;
  if (auto ok = applyConfiguration(*body, record, true); !ok) co_return std::unexpected(ok.error());
  auto code = core::getObject(*body, "Code");
  if (!code) co_return std::unexpected(code.error());
  if (!*code)
    co_return fail(
        Code::kValidation,
        "1 validation error detected: Value null at 'code' failed to satisfy constraint: Member must not be null");
  auto zip = decodeZip(**code);
  if (!zip) co_return std::unexpected(zip.error());
  if (auto tags = core::getObject(*body, "Tags"); !tags) {
    co_return std::unexpected(tags.error());
  } else if (*tags) {
    for (const auto& kv : **tags)
      if (kv.value().is_string()) record.tags[std::string(kv.key())] = std::string(kv.value().as_string());
  }
  auto created = co_await registry_.create(std::move(record), std::move(*zip));
  if (!created) co_return std::unexpected(created.error());
  if (publish->value_or(false)) {  // the response is version 1's configuration
    created = co_await registry_.publishVersion(created->name, "", "", "");
    if (!created) co_return std::unexpected(created.error());
  }
  http::Response r;
  r.status = 201;
  r.set("Content-Type", "application/json");
  r.body = json::serialize(created->toConfiguration());
  co_return r;
}

std::string LambdaApi::codeLocation(const http::Request& req, const FunctionRecord& r) const {
  std::string host(req.header("host"));
  if (host.empty()) host = "127.0.0.1:9001";
  int64_t expires = clock_.nowMs() / 1000 + 600;
  std::string payload = r.codeSha256Hex + ":" + std::to_string(expires);
  std::string sig = core::toHex(core::hmacSha256(options_.codeUrlSecret, payload));
  return "http://" + host + "/_lamina/code/" + r.codeSha256Hex + ".zip?Expires=" + std::to_string(expires) +
         "&Signature=" + sig;
}

asio::awaitable<http::Response> LambdaApi::downloadCode(const http::Request& req, const std::string& requestId) {
  std::string_view path = req.path();
  std::string_view file = path.substr(std::string_view("/_lamina/code/").size());
  if (file.size() != 64 + 4 || file.substr(64) != ".zip")
    co_return http::awsError(Error(Code::kAccessDenied, "Invalid code location"), requestId);
  std::string hex(file.substr(0, 64));
  std::string expires = queryParam(req, "Expires");
  std::string sig = queryParam(req, "Signature");
  std::string want = core::toHex(core::hmacSha256(options_.codeUrlSecret, hex + ":" + expires));
  int64_t exp = 0;
  for (char c : expires) exp = (c >= '0' && c <= '9' && exp < INT64_MAX / 10) ? exp * 10 + (c - '0') : -1;
  if (sig != want || exp < clock_.nowMs() / 1000)
    co_return http::awsError(Error(Code::kAccessDenied, "Request has expired or its signature is invalid"), requestId);
  auto blob = co_await registry_.readCode(hex);
  if (!blob) co_return http::awsError(Error(Code::kResourceNotFound, "The code no longer exists"), requestId);
  http::Response r;
  r.set("Content-Type", "application/zip");
  r.set("x-amzn-RequestId", requestId);
  r.body = std::move(*blob);
  co_return r;
}

Result<http::Response> LambdaApi::getFunction(const http::Request& req, const std::string& fn,
                                              const std::string& region, bool configurationOnly) {
  std::string qualifier;
  auto e = lookup(fn, region, queryParam(req, "Qualifier"), false, 170, &qualifier);
  if (!e) return std::unexpected(e.error());
  auto resolved = registry_.resolve(**e, qualifier, false);
  if (!resolved) return std::unexpected(resolved.error());
  const FunctionRecord& r = *resolved->record;
  json::object cfg = r.toConfiguration();
  if ((*e)->aliases.count(qualifier)) cfg["FunctionArn"] = r.arn() + ":" + qualifier;  // as AWS shows an alias
  if (configurationOnly) return jsonResponse(200, cfg);
  json::object out;
  out["Configuration"] = std::move(cfg);
  out["Code"] = json::object{{"RepositoryType", "S3"}, {"Location", codeLocation(req, r)}};
  if ((*e)->record.reservedConcurrency >= 0)
    out["Concurrency"] = json::object{{"ReservedConcurrentExecutions", (*e)->record.reservedConcurrency}};
  if (!r.tags.empty()) {
    json::object tags;
    for (auto& [k, v] : r.tags) tags[k] = v;
    out["Tags"] = std::move(tags);
  }
  return jsonResponse(200, out);
}

Result<http::Response> LambdaApi::listFunctions(const http::Request& req) {
  auto page = pageOf(req);
  if (!page) return std::unexpected(page.error());
  const int64_t maxItems = page->size;
  const std::string& after = page->after;
  json::array functions;
  std::string last;
  bool more = false;
  for (auto it = after.empty() ? registry_.all().begin() : registry_.all().upper_bound(after);
       it != registry_.all().end(); ++it) {
    if (int64_t(functions.size()) == maxItems) {
      more = true;
      break;
    }
    functions.push_back(it->second.record.toConfiguration());
    last = it->first;
  }
  json::object out{{"Functions", std::move(functions)}};
  if (more) out["NextMarker"] = core::base64Encode(last);
  return jsonResponse(200, out);
}

Result<http::Response> LambdaApi::accountSettings() {
  int64_t total = 0;
  for (auto& [n, e] : registry_.all()) total += e.record.codeSize;
  json::object out{
      {"AccountLimit", json::object{{"TotalCodeSize", int64_t(80530636800)},
                                    {"CodeSizeUnzipped", 262144000},
                                    {"CodeSizeZipped", 52428800},
                                    {"ConcurrentExecutions", options_.accountConcurrency},
                                    {"UnreservedConcurrentExecutions", registry_.unreservedConcurrency()}}},
      {"AccountUsage", json::object{{"TotalCodeSize", total}, {"FunctionCount", int64_t(registry_.all().size())}}}};
  return jsonResponse(200, out);
}

asio::awaitable<Result<http::Response>> LambdaApi::invoke(http::Request& req, const std::string& fn,
                                                          const std::string& region, const std::string& requestId) {
  if (req.bodyTooLarge ||
      (req.body.size() > invoke::kMaxSyncPayloadBytes && req.header("x-amz-invocation-type") != "Event"))
    co_return fail(Code::kRequestTooLarge,
                   "Request must be smaller than 6291456 bytes for the InvokeFunction operation");
  std::string qualifier;
  auto e = lookup(fn, region, queryParam(req, "Qualifier"), true, 170, &qualifier);
  if (!e) co_return std::unexpected(e.error());
  auto resolved = registry_.resolve(**e, qualifier, true);  // an alias routes by its weights
  if (!resolved) co_return std::unexpected(resolved.error());
  std::string type(req.header("x-amz-invocation-type"));
  if (type.empty()) type = "RequestResponse";
  if (type != "RequestResponse" && type != "Event" && type != "DryRun")
    co_return fail(Code::kValidation, "1 validation error detected: Value '" + type +
                                          "' at 'invocationType' failed to satisfy constraint: Member must satisfy "
                                          "enum value set: [Event, RequestResponse, DryRun]");
  std::string logType(req.header("x-amz-log-type"));
  if (!logType.empty() && logType != "None" && logType != "Tail")
    co_return fail(Code::kValidation, "1 validation error detected: Value '" + logType +
                                          "' at 'logType' failed to satisfy constraint: Member must satisfy enum "
                                          "value set: [None, Tail]");
  if (!req.body.empty()) {
    if (auto parsed = core::parseJson(req.body); !parsed)
      co_return fail(Code::kInvalidRequestContent,
                     "Could not parse request body into json: Could not parse payload into json: " +
                         parsed.error().message().substr(parsed.error().message().rfind(": ") + 2));
  }
  std::string clientContext;
  if (auto cc = req.header("x-amz-client-context"); !cc.empty()) {
    auto decoded = core::base64Decode(cc);
    if (!decoded || cc.size() > 3583 || !core::parseJsonObject(*decoded))
      co_return fail(Code::kInvalidRequestContent, "Client context must be a valid Base64-encoded JSON object.");
    clientContext = std::move(*decoded);
  }
  if (type == "DryRun") co_return emptyResponse(204);
  if (type == "Event") co_return co_await invokeEvent(req, **e, qualifier, requestId);

  invoke::SyncRequest sync;
  sync.image = resolved->image;
  sync.requestId = requestId;
  sync.payload = req.body.empty() ? std::string("{}") : std::move(req.body);
  sync.invokedArn = (*e)->record.arn();
  if (!qualifier.empty()) sync.invokedArn += ":" + qualifier;
  sync.clientContext = std::move(clientContext);
  sync.wantLogTail = logType == "Tail";
  auto result = co_await invoker_.invoke(std::move(sync));
  if (!result) co_return std::unexpected(result.error());
  http::Response r;
  r.status = 200;
  r.set("Content-Type", "application/json");
  r.set("X-Amz-Executed-Version", result->executedVersion);
  if (result->functionError) r.set("X-Amz-Function-Error", "Unhandled");
  if (sync.wantLogTail) r.set("X-Amz-Log-Result", result->logResult);
  r.body = std::move(result->body);
  co_return r;
}

Result<http::Response> LambdaApi::listVersions(const http::Request& req, const FunctionEntry& e) {
  auto page = pageOf(req);
  if (!page) return std::unexpected(page.error());
  const int64_t maxItems = page->size;
  const std::string& after = page->after;
  std::vector<const FunctionRecord*> all{&e.record};
  for (const auto& [n, v] : e.versions) all.push_back(&v.record);
  json::array versions;
  bool started = after.empty(), more = false;
  std::string last;
  for (const FunctionRecord* r : all) {
    if (!started) {
      started = r->version == after;
      continue;
    }
    if (int64_t(versions.size()) == maxItems) {
      more = true;
      break;
    }
    versions.push_back(r->toConfiguration());
    last = r->version;
  }
  json::object out{{"Versions", std::move(versions)}};
  if (more) out["NextMarker"] = core::base64Encode(last);
  return jsonResponse(200, out);
}

asio::awaitable<Result<http::Response>> LambdaApi::versionsAndAliases(http::Request& req, const FunctionEntry& e,
                                                                      const std::string& rest) {
  const std::string& m = req.method;
  const std::string name = e.record.name;
  const std::string arn = e.record.arn();
  if (rest == "versions") {
    if (m == "GET") co_return listVersions(req, e);
    if (m == "POST") {
      auto body = core::parseJsonObject(req.body.empty() ? std::string("{}") : req.body);
      if (!body) co_return std::unexpected(body.error());
      auto sha = core::getString(*body, "CodeSha256");
      auto description = core::getString(*body, "Description");
      auto revision = core::getString(*body, "RevisionId");
      if (!sha) co_return std::unexpected(sha.error());
      if (!description) co_return std::unexpected(description.error());
      if (!revision) co_return std::unexpected(revision.error());
      auto published =
          co_await registry_.publishVersion(name, sha->value_or(""), description->value_or(""), revision->value_or(""));
      if (!published) co_return std::unexpected(published.error());
      co_return jsonResponse(201, published->toConfiguration());
    }
  }
  if (rest == "aliases") {
    if (m == "GET") {
      auto page = pageOf(req);
      if (!page) co_return std::unexpected(page.error());
      const int64_t maxItems = page->size;
      const std::string& after = page->after;
      std::string filter = queryParam(req, "FunctionVersion");
      json::array aliases;
      bool more = false;
      std::string last;
      for (auto it = after.empty() ? e.aliases.begin() : e.aliases.upper_bound(after); it != e.aliases.end(); ++it) {
        if (!filter.empty() && it->second.functionVersion != filter) continue;
        if (int64_t(aliases.size()) == maxItems) {
          more = true;
          break;
        }
        aliases.push_back(it->second.toConfiguration(arn));
        last = it->first;
      }
      json::object out{{"Aliases", std::move(aliases)}};
      if (more) out["NextMarker"] = core::base64Encode(last);
      co_return jsonResponse(200, out);
    }
    if (m == "POST") {
      auto body = core::parseJsonObject(req.body);
      if (!body) co_return std::unexpected(body.error());
      AliasRecord alias;
      if (auto ok = applyAlias(*body, alias, true); !ok) co_return std::unexpected(ok.error());
      auto created = co_await registry_.putAlias(name, std::move(alias), true, "");
      if (!created) co_return std::unexpected(created.error());
      co_return jsonResponse(201, created->toConfiguration(arn));
    }
  }
  if (core::startsWith(rest, "aliases/")) {
    auto aliasName = core::uriDecode(std::string_view(rest).substr(8));
    if (!aliasName || aliasName->empty() || aliasName->find('/') != std::string::npos)
      co_return fail(Code::kUnknownOperation, "No operation matches " + m + " " + std::string(req.path()));
    auto it = e.aliases.find(*aliasName);
    if (m == "GET") {
      if (it == e.aliases.end()) co_return fail(Code::kResourceNotFound, "Alias not found: " + arn + ":" + *aliasName);
      co_return jsonResponse(200, it->second.toConfiguration(arn));
    }
    if (m == "DELETE") {
      auto removed = co_await registry_.removeAlias(name, *aliasName);
      if (!removed) co_return std::unexpected(removed.error());
      co_return emptyResponse(204);
    }
    if (m == "PUT") {
      if (it == e.aliases.end()) co_return fail(Code::kResourceNotFound, "Alias not found: " + arn + ":" + *aliasName);
      auto body = core::parseJsonObject(req.body);
      if (!body) co_return std::unexpected(body.error());
      AliasRecord alias = it->second;
      if (auto ok = applyAlias(*body, alias, false); !ok) co_return std::unexpected(ok.error());
      auto revision = core::getString(*body, "RevisionId");
      if (!revision) co_return std::unexpected(revision.error());
      auto updated = co_await registry_.putAlias(name, std::move(alias), false, revision->value_or(""));
      if (!updated) co_return std::unexpected(updated.error());
      co_return jsonResponse(200, updated->toConfiguration(arn));
    }
  }
  co_return fail(Code::kUnknownOperation, "No operation matches " + m + " " + std::string(req.path()));
}

json::object LambdaApi::provisionedJson(const FunctionEntry& e, const std::string& qualifier,
                                        const ProvisionedConfig& pc) const {
  scheduler::ProvisionedStatus st;
  if (auto target = registry_.resolve(e, qualifier, false); target)
    st = invoker_.scheduler().provisionedStatus(e.record.name, target->record->version);
  // Several configs may share one version (an alias and the version itself): report this one's share.
  int allocated = std::min(st.allocated, pc.requested), available = std::min(st.available, allocated);
  return json::object{{"RequestedProvisionedConcurrentExecutions", pc.requested},
                      {"AvailableProvisionedConcurrentExecutions", available},
                      {"AllocatedProvisionedConcurrentExecutions", allocated},
                      {"Status", allocated >= pc.requested ? "READY" : "IN_PROGRESS"},
                      {"LastModified", core::lambdaTimestamp(pc.lastModifiedMs)}};
}

asio::awaitable<Result<http::Response>> LambdaApi::provisionedConcurrency(http::Request& req, const FunctionEntry& e) {
  const std::string name = e.record.name, arn = e.record.arn();
  std::string qualifier = queryParam(req, "Qualifier");
  if (req.method == "GET" && queryParam(req, "List") == "ALL") {
    json::array configs;
    for (const auto& [q, pc] : e.provisioned) {
      json::object o = provisionedJson(e, q, pc);
      o["FunctionArn"] = arn + ":" + q;
      configs.push_back(std::move(o));
    }
    co_return jsonResponse(200, json::object{{"ProvisionedConcurrencyConfigs", std::move(configs)}});
  }
  if (qualifier.empty())
    co_return fail(Code::kValidation,
                   "1 validation error detected: Value null at 'qualifier' failed to satisfy "
                   "constraint: Member must not be null");
  if (req.method == "GET") {
    if (auto target = registry_.resolve(e, qualifier, false); !target) co_return std::unexpected(target.error());
    auto it = e.provisioned.find(qualifier);
    if (it == e.provisioned.end())
      co_return fail(Code::kProvisionedConcurrencyConfigNotFound,
                     "No Provisioned Concurrency Config found for this function");
    co_return jsonResponse(200, provisionedJson(e, qualifier, it->second));
  }
  if (req.method == "DELETE") {
    auto done = co_await registry_.setProvisioned(name, qualifier, 0);
    if (!done) co_return std::unexpected(done.error());
    co_return emptyResponse(204);
  }
  if (req.method == "PUT") {
    auto body = core::parseJsonObject(req.body);
    if (!body) co_return std::unexpected(body.error());
    auto requested = requiredInt(*body, "ProvisionedConcurrentExecutions", "provisionedConcurrentExecutions", 1);
    if (!requested) co_return std::unexpected(requested.error());
    int count = int(std::min<int64_t>(*requested, options_.accountConcurrency));
    auto done = co_await registry_.setProvisioned(name, qualifier, count);
    if (!done) co_return std::unexpected(done.error());
    json::object out{{"RequestedProvisionedConcurrentExecutions", done->requested},
                     {"AllocatedProvisionedConcurrentExecutions", 0},
                     {"AvailableProvisionedConcurrentExecutions", 0},
                     {"Status", "IN_PROGRESS"},
                     {"LastModified", core::lambdaTimestamp(done->lastModifiedMs)}};
    co_return jsonResponse(202, out);
  }
  co_return fail(Code::kUnknownOperation, "No operation matches " + req.method + " " + std::string(req.path()));
}

}  // namespace lamina::api
