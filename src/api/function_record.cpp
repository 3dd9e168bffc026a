#include "api/function_record.h"

#include "core/json.h"
#include "core/time.h"

namespace lamina::api {

namespace json = boost::json;

std::string functionArn(std::string_view region, std::string_view name) {
  return "arn:aws:lambda:" + std::string(region) + ":" + std::string(kAccountId) + ":function:" + std::string(name);
}

std::string FunctionRecord::arn() const { return functionArn(region, name); }

json::object FunctionRecord::toConfiguration() const {
  json::object o;
  o["FunctionName"] = name;
  o["FunctionArn"] = version == "$LATEST" ? arn() : arn() + ":" + version;
  o["Runtime"] = runtime;
  o["Role"] = role;
  o["Handler"] = handler;
  o["CodeSize"] = codeSize;
  o["Description"] = description;
  o["Timeout"] = timeout;
  o["MemorySize"] = memorySize;
  o["LastModified"] = core::lambdaTimestamp(lastModifiedMs);
  o["CodeSha256"] = codeSha256Base64;
  o["Version"] = version;
  if (!variables.empty()) {
    json::object vars;
    for (const auto& [k, v] : variables) vars[k] = v;
    o["Environment"] = json::object{{"Variables", std::move(vars)}};
  }
  if (!kmsKeyArn.empty()) o["KMSKeyArn"] = kmsKeyArn;
  if (!deadLetterTargetArn.empty()) o["DeadLetterConfig"] = json::object{{"TargetArn", deadLetterTargetArn}};
  o["TracingConfig"] = json::object{{"Mode", tracingMode}};
  o["RevisionId"] = revisionId;
  o["State"] = "Active";
  o["LastUpdateStatus"] = "Successful";
  o["PackageType"] = "Zip";
  o["Architectures"] = json::array{architecture};
  o["EphemeralStorage"] = json::object{{"Size", ephemeralStorage}};
  o["SnapStart"] = json::object{{"ApplyOn", "None"}, {"OptimizationStatus", "Off"}};
  o["LoggingConfig"] = json::object{{"LogFormat", "Text"}, {"LogGroup", "/aws/lambda/" + name}};
  return o;
}

std::string FunctionRecord::toStorage() const {
  json::object o = toConfiguration();
  o["Region"] = region;
  o["CodeSha256Hex"] = codeSha256Hex;
  o["LastModifiedMs"] = lastModifiedMs;
  o["LastVersion"] = lastVersion;
  o["PublishedRevision"] = publishedRevision;
  o["ReservedConcurrency"] = reservedConcurrency;
  json::object t;
  for (const auto& [k, v] : tags) t[k] = v;
  o["Tags"] = std::move(t);
  return core::serialize(o);
}

Result<FunctionRecord> FunctionRecord::fromStorage(std::string_view text) {
  auto parsed = core::parseJsonObject(text);
  if (!parsed) return std::unexpected(parsed.error().context("stored function"));
  const json::object& o = *parsed;
  auto str = [&](std::string_view k) -> std::string {
    auto it = o.find(k);
    return it != o.end() && it->value().is_string() ? std::string(it->value().as_string()) : std::string();
  };
  auto num = [&](std::string_view k, int64_t def) -> int64_t {
    auto it = o.find(k);
    return it != o.end() && it->value().is_int64() ? it->value().as_int64() : def;
  };
  auto sub = [&](std::string_view k) -> const json::object* {
    auto it = o.find(k);
    return it != o.end() && it->value().is_object() ? &it->value().as_object() : nullptr;
  };
  auto strMap = [](const json::object* m) {
    std::map<std::string, std::string> out;
    if (m)
      for (const auto& kv : *m)
        if (kv.value().is_string()) out[std::string(kv.key())] = std::string(kv.value().as_string());
    return out;
  };
  FunctionRecord r;
  r.name = str("FunctionName");
  r.region = str("Region");
  r.runtime = str("Runtime");
  r.role = str("Role");
  r.handler = str("Handler");
  r.description = str("Description");
  r.timeout = int(num("Timeout", 3));
  r.memorySize = int(num("MemorySize", 128));
  if (auto* e = sub("EphemeralStorage")) {
    auto it = e->find("Size");
    if (it != e->end() && it->value().is_int64()) r.ephemeralStorage = int(it->value().as_int64());
  }
  if (auto* env = sub("Environment")) {
    auto it = env->find("Variables");
    if (it != env->end() && it->value().is_object()) r.variables = strMap(&it->value().as_object());
  }
  r.codeSha256Hex = str("CodeSha256Hex");
  r.codeSha256Base64 = str("CodeSha256");
  r.codeSize = num("CodeSize", 0);
  r.lastModifiedMs = num("LastModifiedMs", 0);
  r.revisionId = str("RevisionId");
  if (auto it = o.find("Architectures"); it != o.end() && it->value().is_array() && !it->value().as_array().empty() &&
                                         it->value().as_array()[0].is_string())
    r.architecture = std::string(it->value().as_array()[0].as_string());
  if (auto* t = sub("TracingConfig")) {
    auto it = t->find("Mode");
    if (it != t->end() && it->value().is_string()) r.tracingMode = std::string(it->value().as_string());
  }
  r.kmsKeyArn = str("KMSKeyArn");
  if (auto* d = sub("DeadLetterConfig")) {
    auto it = d->find("TargetArn");
    if (it != d->end() && it->value().is_string()) r.deadLetterTargetArn = std::string(it->value().as_string());
  }
  r.tags = strMap(sub("Tags"));
  r.version = str("Version");
  if (r.version.empty()) r.version = "$LATEST";
  r.lastVersion = num("LastVersion", 0);
  r.publishedRevision = str("PublishedRevision");
  r.reservedConcurrency = int(num("ReservedConcurrency", -1));
  if (r.name.empty() || r.codeSha256Hex.empty()) return fail(Code::kInternal, "stored function document is incomplete");
  return r;
}

json::object AliasRecord::toConfiguration(const std::string& functionArn) const {
  json::object o{{"AliasArn", functionArn + ":" + name},
                 {"Name", name},
                 {"FunctionVersion", functionVersion},
                 {"Description", description},
                 {"RevisionId", revisionId}};
  if (!weights.empty()) {
    json::object w;
    for (const auto& [v, weight] : weights) w[v] = weight;
    o["RoutingConfig"] = json::object{{"AdditionalVersionWeights", std::move(w)}};
  }
  return o;
}

std::string AliasRecord::toStorage() const { return core::serialize(toConfiguration("")); }

Result<AliasRecord> AliasRecord::fromStorage(std::string_view text) {
  auto parsed = core::parseJsonObject(text);
  if (!parsed) return std::unexpected(parsed.error().context("stored alias"));
  AliasRecord a;
  auto str = [&](std::string_view k) {
    auto it = parsed->find(k);
    return it != parsed->end() && it->value().is_string() ? std::string(it->value().as_string()) : std::string();
  };
  a.name = str("Name");
  a.functionVersion = str("FunctionVersion");
  a.description = str("Description");
  a.revisionId = str("RevisionId");
  if (auto rc = parsed->find("RoutingConfig"); rc != parsed->end() && rc->value().is_object()) {
    if (auto w = rc->value().as_object().find("AdditionalVersionWeights");
        w != rc->value().as_object().end() && w->value().is_object()) {
      for (const auto& kv : w->value().as_object())
        if (kv.value().is_number()) a.weights[std::string(kv.key())] = kv.value().to_number<double>();
    }
  }
  if (a.name.empty() || a.functionVersion.empty()) return fail(Code::kInternal, "stored alias is incomplete");
  return a;
}

}  // namespace lamina::api

namespace lamina::api {

json::object EventInvokeConfig::toJson(const std::string& qualifiedArn) const {
  json::object o;
  json::object success, failure;
  if (!onSuccess.empty()) success["Destination"] = onSuccess;
  if (!onFailure.empty()) failure["Destination"] = onFailure;
  o["DestinationConfig"] = json::object{{"OnFailure", std::move(failure)}, {"OnSuccess", std::move(success)}};
  o["FunctionArn"] = qualifiedArn;
  o["LastModified"] = double(lastModifiedMs) / 1000.0;  // a number of seconds, unlike FunctionConfiguration's
  if (maxRetries >= 0) o["MaximumRetryAttempts"] = maxRetries;
  if (maxAgeSec >= 0) o["MaximumEventAgeInSeconds"] = maxAgeSec;
  return o;
}

std::string EventInvokeConfig::toStorage() const {
  json::object o = toJson("");
  o["LastModifiedMs"] = lastModifiedMs;
  return core::serialize(o);
}

Result<EventInvokeConfig> EventInvokeConfig::fromStorage(std::string_view text) {
  auto parsed = core::parseJsonObject(text);
  if (!parsed) return std::unexpected(parsed.error().context("stored event invoke config"));
  EventInvokeConfig c;
  if (auto v = core::getInt(*parsed, "MaximumRetryAttempts"); v && *v) c.maxRetries = int(**v);
  if (auto v = core::getInt(*parsed, "MaximumEventAgeInSeconds"); v && *v) c.maxAgeSec = int(**v);
  if (auto v = core::getInt(*parsed, "LastModifiedMs"); v && *v) c.lastModifiedMs = **v;
  if (auto d = core::getObject(*parsed, "DestinationConfig"); d && *d) {
    for (auto [key, out] : {std::pair{"OnSuccess", &c.onSuccess}, std::pair{"OnFailure", &c.onFailure}}) {
      if (auto side = core::getObject(**d, key); side && *side) {
        if (auto arn = core::getString(**side, "Destination"); arn && *arn) *out = **arn;
      }
    }
  }
  return c;
}

}  // namespace lamina::api
