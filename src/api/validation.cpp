#include "api/validation.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <regex>
#include <vector>

#include "core/json.h"
#include "core/strings.h"

namespace lamina::api {

namespace json = boost::json;

namespace {

const std::regex& nameRe() {
  static const std::regex re("[a-zA-Z0-9_-]+");
  return re;
}
const std::regex& qualifierRe() {
  static const std::regex re("(\\$LATEST|[a-zA-Z0-9_-]+)");
  return re;
}
const std::regex& roleRe() {
  static const std::regex re("arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+");
  return re;
}
const std::regex& envNameRe() {
  static const std::regex re("[a-zA-Z]([a-zA-Z0-9_])+");
  return re;
}

constexpr std::string_view kFunctionNamePattern =
    "(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$"
    "LATEST|[a-zA-Z0-9-_]+))?";

struct Violations {
  std::vector<std::string> items;
  void add(std::string_view value, std::string_view field, std::string_view constraint) {
    items.push_back(fmt::format("Value '{}' at '{}' failed to satisfy constraint: {}", value, field, constraint));
  }
  Result<void> result() const {
    if (items.empty()) return {};
    std::string msg = fmt::format("{} validation error{} detected: ", items.size(), items.size() == 1 ? "" : "s");
    for (size_t i = 0; i < items.size(); ++i) msg += (i ? "; " : "") + items[i];
    return fail(Code::kValidation, msg);
  }
};

}  // namespace

bool isReservedVariable(std::string_view n) {
  static constexpr std::string_view kReserved[] = {"_HANDLER",
                                                   "_X_AMZN_TRACE_ID",
                                                   "AWS_DEFAULT_REGION",
                                                   "AWS_REGION",
                                                   "AWS_EXECUTION_ENV",
                                                   "AWS_LAMBDA_FUNCTION_NAME",
                                                   "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                                                   "AWS_LAMBDA_FUNCTION_VERSION",
                                                   "AWS_LAMBDA_INITIALIZATION_TYPE",
                                                   "AWS_LAMBDA_LOG_GROUP_NAME",
                                                   "AWS_LAMBDA_LOG_STREAM_NAME",
                                                   "AWS_ACCESS_KEY",
                                                   "AWS_ACCESS_KEY_ID",
                                                   "AWS_SECRET_ACCESS_KEY",
                                                   "AWS_SESSION_TOKEN",
                                                   "AWS_LAMBDA_RUNTIME_API",
                                                   "LAMBDA_TASK_ROOT",
                                                   "LAMBDA_RUNTIME_DIR"};
  for (auto r : kReserved)
    if (n == r) return true;
  return false;
}

Result<FunctionRef> parseFunctionRef(std::string_view text, size_t maxLength) {
  auto invalid = [&]() {
    Violations v;
    v.add(text, "functionName", "Member must satisfy regular expression pattern: " + std::string(kFunctionNamePattern));
    return std::unexpected(v.result().error());
  };
  if (text.empty() || text.size() > maxLength) {
    Violations v;
    if (text.empty())
      v.add(text, "functionName", "Member must have length greater than or equal to 1");
    else
      v.add(text, "functionName", fmt::format("Member must have length less than or equal to {}", maxLength));
    return std::unexpected(v.result().error());
  }
  std::vector<std::string_view> parts = core::split(text, ':');
  FunctionRef ref;
  std::string_view name, qualifier;
  if (parts.size() >= 7 && parts[0] == "arn" && parts[2] == "lambda" && parts[5] == "function") {
    if (parts.size() > 8 || parts[4] != kAccountId) return invalid();
    name = parts[6];
    if (parts.size() == 8) qualifier = parts[7];
  } else if (parts.size() >= 3 && parts[1] == "function") {
    if (parts.size() > 4 || parts[0] != kAccountId) return invalid();
    name = parts[2];
    if (parts.size() == 4) qualifier = parts[3];
  } else if (parts.size() <= 2) {
    name = parts[0];
    if (parts.size() == 2) qualifier = parts[1];
  } else {
    return invalid();
  }
  std::string n(name), q(qualifier);
  if (n.empty() || n.size() > 64 || !std::regex_match(n, nameRe())) return invalid();
  if (parts.size() == 2 || parts.size() == 4 || parts.size() == 8) {
    if (q.empty() || !std::regex_match(q, qualifierRe())) return invalid();
  }
  ref.name = std::move(n);
  ref.qualifier = std::move(q);
  return ref;
}

Result<void> applyConfiguration(const json::object& body, FunctionRecord& r, bool creating) {
  Violations v;
  auto role = core::getString(body, "Role");
  auto runtime = core::getString(body, "Runtime");
  auto handler = core::getString(body, "Handler");
  auto description = core::getString(body, "Description");
  auto timeout = core::getInt(body, "Timeout");
  auto memory = core::getInt(body, "MemorySize");
  auto kms = core::getString(body, "KMSKeyArn");
  for (const Error* e :
       {role ? nullptr : &role.error(), runtime ? nullptr : &runtime.error(), handler ? nullptr : &handler.error(),
        description ? nullptr : &description.error(), timeout ? nullptr : &timeout.error(),
        memory ? nullptr : &memory.error(), kms ? nullptr : &kms.error()})
    if (e) return std::unexpected(*e);

  if (*role) {
    if (!std::regex_match(**role, roleRe()))
      v.add(**role, "role",
            "Member must satisfy regular expression pattern: "
            "arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+");
    r.role = **role;
  }
  if (*handler) {
    if (handler->value().size() > 128)
      v.add(**handler, "handler", "Member must have length less than or equal to 128");
    else if (handler->value().empty() || handler->value().find_first_of(" \t\r\n") != std::string::npos)
      v.add(**handler, "handler", "Member must satisfy regular expression pattern: [^\\s]+");
    r.handler = **handler;
  }
  if (*description) {
    if (description->value().size() > 256)
      v.add(**description, "description", "Member must have length less than or equal to 256");
    r.description = **description;
  }
  if (*timeout) {
    if (**timeout < 1) v.add(std::to_string(**timeout), "timeout", "Member must have value greater than or equal to 1");
    if (**timeout > 900)
      v.add(std::to_string(**timeout), "timeout", "Member must have value less than or equal to 900");
    r.timeout = int(std::clamp<int64_t>(**timeout, 1, 900));
  }
  if (*memory) {
    if (**memory < 128)
      v.add(std::to_string(**memory), "memorySize", "Member must have value greater than or equal to 128");
    if (**memory > 10240)
      v.add(std::to_string(**memory), "memorySize", "Member must have value less than or equal to 10240");
    r.memorySize = int(std::clamp<int64_t>(**memory, 128, 10240));
  }
  if (*runtime) r.runtime = **runtime;
  if (*kms) r.kmsKeyArn = **kms;

  auto eph = core::getObject(body, "EphemeralStorage");
  if (!eph) return std::unexpected(eph.error());
  if (*eph) {
    auto size = core::getInt(**eph, "Size");
    if (!size) return std::unexpected(size.error());
    if (!*size) return fail(Code::kInvalidParameterValue, "EphemeralStorage.Size is required");
    if (**size < 512)
      v.add(std::to_string(**size), "ephemeralStorage.size", "Member must have value greater than or equal to 512");
    if (**size > 10240)
      v.add(std::to_string(**size), "ephemeralStorage.size", "Member must have value less than or equal to 10240");
    r.ephemeralStorage = int(std::clamp<int64_t>(**size, 512, 10240));
  }

  auto tracing = core::getObject(body, "TracingConfig");
  if (!tracing) return std::unexpected(tracing.error());
  if (*tracing) {
    auto mode = core::getString(**tracing, "Mode");
    if (!mode) return std::unexpected(mode.error());
    if (*mode) {
      if (**mode != "Active" && **mode != "PassThrough")
        v.add(**mode, "tracingConfig.mode", "Member must satisfy enum value set: [Active, PassThrough]");
      r.tracingMode = **mode;
    }
  }

  auto dlq = core::getObject(body, "DeadLetterConfig");
  if (!dlq) return std::unexpected(dlq.error());
  if (*dlq) {
    auto target = core::getString(**dlq, "TargetArn");
    if (!target) return std::unexpected(target.error());
    r.deadLetterTargetArn = target->value_or("");
  }

  if (auto it = body.find("Architectures"); it != body.end() && !it->value().is_null()) {
    const json::value& a = it->value();
    if (!a.is_array() || a.as_array().size() != 1 || !a.as_array()[0].is_string())
      return fail(Code::kValidation,
                  "1 validation error detected: Value at 'architectures' failed to satisfy constraint: Member must "
                  "have length less than or equal to 1");
    std::string arch(a.as_array()[0].as_string());
    if (arch != "x86_64" && arch != "arm64")
      v.add("[" + arch + "]", "architectures",
            "Member must satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64]]");
    r.architecture = arch;
  }

  auto env = core::getObject(body, "Environment");
  if (!env) return std::unexpected(env.error());
  if (*env) {
    auto vars = core::getObject(**env, "Variables");
    if (!vars) return std::unexpected(vars.error());
    std::map<std::string, std::string> next;
    std::vector<std::string> reserved;
    if (*vars) {
      for (const auto& kv : **vars) {
        std::string key(kv.key());
        if (!kv.value().is_string())
          return fail(Code::kInvalidRequestContent,
                      "Could not parse request body into json: Environment.Variables." + key + " must be a string");
        if (!std::regex_match(key, envNameRe()))
          v.add(key, "environment.variables",
                "Map keys must satisfy constraint: [Member must satisfy regular expression pattern: "
                "[a-zA-Z]([a-zA-Z0-9_])+]");
        if (isReservedVariable(key)) reserved.push_back(key);
        next[key] = std::string(kv.value().as_string());
      }
      if (!reserved.empty()) {
        std::string list;
        for (const auto& k : reserved) list += (list.empty() ? "" : ",") + k;
        return fail(Code::kInvalidParameterValue,
                    "Lambda was unable to configure your environment variables because the environment variables you "
                    "have provided contains reserved keys that are currently not supported for modification. Reserved "
                    "keys used in this request: " +
                        list);
      }
      std::string measured = core::serialize(**vars);
      if (measured.size() > 4096)
        return fail(Code::kInvalidParameterValue,
                    "Lambda was unable to configure your environment variables because the environment variables you "
                    "have provided exceeded the 4KB limit. String measured: " +
                        measured);
    }
    r.variables = std::move(next);
  }

  for (std::string_view unsupported :
       {"Layers", "VpcConfig", "FileSystemConfigs", "ImageConfig", "CodeSigningConfigArn"}) {
    auto it = body.find(unsupported);
    if (it == body.end() || it->value().is_null()) continue;
    bool empty = (it->value().is_array() && it->value().as_array().empty()) ||
                 (it->value().is_object() && it->value().as_object().empty());
    if (unsupported == "VpcConfig" && it->value().is_object()) {
      const auto& vpc = it->value().as_object();
      auto emptyList = [&](std::string_view k) {
        auto f = vpc.find(k);
        return f == vpc.end() || (f->value().is_array() && f->value().as_array().empty());
      };
      empty = emptyList("SubnetIds") && emptyList("SecurityGroupIds");
    }
    if (!empty)
      return fail(
          Code::kInvalidParameterValue,
          std::string(unsupported) + " is not supported by this version of lamina yet; remove it from the request.");
  }

  if (auto res = v.result(); !res) return res;
  if (creating) {
    if (!*role)
      return fail(
          Code::kValidation,
          "1 validation error detected: Value null at 'role' failed to satisfy constraint: Member must not be null");
    if (r.runtime.empty() || r.handler.empty())
      return fail(Code::kInvalidParameterValue,
                  "Runtime and Handler are mandatory parameters for functions created with deployment packages.");
  }
  return {};
}

bool isAliasName(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  bool digitsOnly = true;
  for (char c : s) {
    if (!(std::isalnum(uint8_t(c)) || c == '-' || c == '_')) return false;
    digitsOnly = digitsOnly && std::isdigit(uint8_t(c));
  }
  return !digitsOnly;
}

bool isVersion(std::string_view s) { return s == "$LATEST" || isVersionNumber(s); }

bool isVersionNumber(std::string_view s) {
  return !s.empty() && s.size() <= 18 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The fields of CreateAlias / UpdateAlias. `creating` requires Name and FunctionVersion.
Result<void> applyAlias(const boost::json::object& body, AliasRecord& alias, bool creating) {
  std::vector<std::string> errors;
  auto name = core::getString(body, "Name");
  if (!name) return std::unexpected(name.error());
  if (creating) {
    if (!*name)
      errors.push_back("Value null at 'name' failed to satisfy constraint: Member must not be null");
    else if (!isAliasName(**name))
      errors.push_back("Value '" + **name +
                       "' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: "
                       "(?!^[0-9]+$)([a-zA-Z0-9-_]+)");
    else
      alias.name = **name;
  }
  auto version = core::getString(body, "FunctionVersion");
  if (!version) return std::unexpected(version.error());
  if (*version) {
    if (!isVersion(**version))
      errors.push_back("Value '" + **version +
                       "' at 'functionVersion' failed to satisfy constraint: Member must satisfy regular expression "
                       "pattern: (\\$LATEST|[0-9]+)");
    else
      alias.functionVersion = **version;
  } else if (creating) {
    errors.push_back("Value null at 'functionVersion' failed to satisfy constraint: Member must not be null");
  }
  auto description = core::getString(body, "Description");
  if (!description) return std::unexpected(description.error());
  if (*description) {
    if ((*description)->size() > 256)
      errors.push_back(
          "Value at 'description' failed to satisfy constraint: Member must have length less than or "
          "equal to 256");
    else
      alias.description = **description;
  }
  if (!errors.empty()) {
    std::string msg =
        std::to_string(errors.size()) + " validation error" + (errors.size() > 1 ? "s" : "") + " detected: ";
    for (size_t i = 0; i < errors.size(); ++i) msg += (i ? "; " : "") + errors[i];
    return fail(Code::kValidation, msg);
  }
  if (auto rc = body.find("RoutingConfig"); rc != body.end() && !rc->value().is_null()) {
    alias.weights.clear();
    if (!rc->value().is_object()) return fail(Code::kInvalidParameterValue, "RoutingConfig must be an object");
    auto w = rc->value().as_object().find("AdditionalVersionWeights");
    if (w != rc->value().as_object().end() && !w->value().is_null()) {
      if (!w->value().is_object())
        return fail(Code::kInvalidParameterValue, "AdditionalVersionWeights must be a map of version to weight");
      for (const auto& kv : w->value().as_object()) {
        std::string v(kv.key());
        if (!kv.value().is_number() || v.empty() || !std::all_of(v.begin(), v.end(), ::isdigit))
          return fail(Code::kValidation,
                      "1 validation error detected: Value at 'routingConfig.additionalVersionWeights' "
                      "failed to satisfy constraint: Map keys must satisfy constraint: [Member must "
                      "satisfy regular expression pattern: [0-9]+]");
        double weight = kv.value().to_number<double>();
        if (weight < 0.0 || weight > 1.0)
          return fail(Code::kValidation,
                      "1 validation error detected: Value at 'routingConfig.additionalVersionWeights' failed to "
                      "satisfy constraint: Map value must satisfy constraint: [Member must have value less than or "
                      "equal to 1.0, Member must have value greater than or equal to 0.0]");
        alias.weights[v] = weight;
      }
      if (alias.weights.size() > 1)
        return fail(Code::kInvalidParameterValue,
                    "Number of items in AdditionalVersionWeights cannot be greater than 1");
    }
  }
  if (!alias.weights.empty()) {
    if (alias.functionVersion == "$LATEST")
      return fail(Code::kInvalidParameterValue,
                  "$LATEST is not supported for an alias pointing to more than 1 version");
    if (alias.weights.count(alias.functionVersion))
      return fail(Code::kInvalidParameterValue, "Invalid function version " + alias.functionVersion +
                                                    ". Function version " + alias.functionVersion +
                                                    " is already included in routing configuration.");
  }
  return {};
}

namespace {

Result<void> checkRange(const json::object& body, std::string_view key, std::string_view field, int64_t min,
                        int64_t max, int& out) {
  auto v = core::getInt(body, key);
  if (!v) return std::unexpected(v.error());
  if (!*v) return {};
  int64_t n = **v;
  if (n < min || n > max)
    return fail(Code::kValidation, "1 validation error detected: Value '" + std::to_string(n) + "' at '" +
                                       std::string(field) + "' failed to satisfy constraint: Member must have value " +
                                       (n < min ? "greater than or equal to " + std::to_string(min)
                                                : "less than or equal to " + std::to_string(max)));
  out = int(n);
  return {};
}

// The model's pattern for a destination ARN (botocore's lambda service model), as AWS quotes it.
constexpr std::string_view kDestinationPattern =
    R"($|kafka://([^.]([a-zA-Z0-9\-_.]{0,248}))|arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1})?:(\d{12})?:(.*))";

bool destinationPatternOk(const std::string& arn) {
  static const std::regex pattern(
      R"(kafka://([^.]([a-zA-Z0-9\-_.]{0,248}))|arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1})?:(\d{12})?:(.*))");
  return arn.empty() || (arn.size() <= 350 && std::regex_match(arn, pattern));
}

}  // namespace

Result<EventInvokeConfigInput> parseEventInvokeConfig(const json::object& body) {
  EventInvokeConfigInput in;
  if (auto ok = checkRange(body, "MaximumRetryAttempts", "maximumRetryAttempts", 0, 2, in.config.maxRetries); !ok)
    return std::unexpected(ok.error());
  if (auto ok =
          checkRange(body, "MaximumEventAgeInSeconds", "maximumEventAgeInSeconds", 60, 21600, in.config.maxAgeSec);
      !ok)
    return std::unexpected(ok.error());
  auto destinations = core::getObject(body, "DestinationConfig");
  if (!destinations) return std::unexpected(destinations.error());
  if (*destinations) {
    for (auto [key, field, given, out] :
         {std::tuple{"OnSuccess", "onSuccess", &in.successGiven, &in.config.onSuccess},
          std::tuple{"OnFailure", "onFailure", &in.failureGiven, &in.config.onFailure}}) {
      auto side = core::getObject(**destinations, key);
      if (!side) return std::unexpected(side.error());
      if (!*side) continue;
      *given = true;
      auto arn = core::getString(**side, "Destination");
      if (!arn) return std::unexpected(arn.error());
      *out = arn->value_or("");
      if (!destinationPatternOk(*out))
        return fail(Code::kValidation, "1 validation error detected: Value '" + *out + "' at 'destinationConfig." +
                                           field +
                                           ".destination' failed to satisfy constraint: Member must satisfy regular "
                                           "expression pattern: " +
                                           std::string(kDestinationPattern));
    }
  }
  if (in.config.maxRetries < 0 && in.config.maxAgeSec < 0 && !*destinations)
    return fail(Code::kInvalidParameterValue,
                "You must specify at least one of error handling or destination setting.");
  in.described =
      "DestinationConfig(onSuccess=" +
      (in.successGiven ? "OnSuccess(destination=" + in.config.onSuccess + ")" : std::string("null")) +
      ", onFailure=" + (in.failureGiven ? "OnFailure(destination=" + in.config.onFailure + ")" : std::string("null")) +
      ")";
  return in;
}

}  // namespace lamina::api
