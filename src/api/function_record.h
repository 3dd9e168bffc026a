// FunctionRecord: lamina's model of one function's $LATEST configuration, how it is stored (a JSON
// document in the functions table) and how it is shown (Lambda's FunctionConfiguration shape).
// Plain value; no thread affinity.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/result.h"

namespace lamina::api {

constexpr std::string_view kAccountId = "000000000000";

struct FunctionRecord {
  std::string name;
  std::string region;
  std::string runtime;
  std::string role;
  std::string handler;
  std::string description;
  int timeout = 3;
  int memorySize = 128;
  int ephemeralStorage = 512;
  std::map<std::string, std::string> variables;
  std::string codeSha256Hex;
  std::string codeSha256Base64;
  int64_t codeSize = 0;
  int64_t lastModifiedMs = 0;
  std::string revisionId;
  std::string architecture = "x86_64";
  std::string tracingMode = "PassThrough";
  std::string kmsKeyArn;
  std::string deadLetterTargetArn;
  std::map<std::string, std::string> tags;
  std::string version = "$LATEST";  // or "1", "2", ... for a published version (immutable)
  int64_t lastVersion = 0;          // $LATEST only: the highest version number ever published
  std::string publishedRevision;    // $LATEST only: its RevisionId when lastVersion was published
  int reservedConcurrency = -1;     // PutFunctionConcurrency; -1 = none (not part of the revision)

  std::string arn() const;  // unqualified
  // Lambda's FunctionConfiguration JSON ($LATEST: unqualified FunctionArn; a version: qualified).
  boost::json::object toConfiguration() const;
  // The stored document (a superset of what toConfiguration shows).
  std::string toStorage() const;
  static Result<FunctionRecord> fromStorage(std::string_view json);
};

std::string functionArn(std::string_view region, std::string_view name);

// An alias: a name for one version, optionally sharing traffic with a second one.
struct AliasRecord {
  std::string name;
  std::string functionVersion;
  std::string description;
  std::map<std::string, double> weights;  // RoutingConfig.AdditionalVersionWeights
  std::string revisionId;

  // Lambda's AliasConfiguration JSON.
  boost::json::object toConfiguration(const std::string& functionArn) const;
  std::string toStorage() const;
  static Result<AliasRecord> fromStorage(std::string_view json);
};

}  // namespace lamina::api

namespace lamina::api {

// How asynchronous invocations of one qualifier are handled (Put/UpdateFunctionEventInvokeConfig).
struct EventInvokeConfig {
  int maxRetries = -1;    // MaximumRetryAttempts 0-2; -1 = not set (AWS's default, 2, applies)
  int maxAgeSec = -1;     // MaximumEventAgeInSeconds 60-21600; -1 = not set (21600)
  std::string onSuccess;  // destination ARNs ("" = none)
  std::string onFailure;
  int64_t lastModifiedMs = 0;

  // Lambda's FunctionEventInvokeConfig JSON; unset members are left out, as AWS does.
  boost::json::object toJson(const std::string& qualifiedArn) const;
  std::string toStorage() const;
  static Result<EventInvokeConfig> fromStorage(std::string_view json);
};

}  // namespace lamina::api
