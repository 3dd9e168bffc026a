// Validation of Lambda control-plane input: function references (names, ARNs, qualifiers) and the
// configuration fields of CreateFunction / UpdateFunctionConfiguration, with AWS's error types
// and messages (ValidationException for model constraints, InvalidParameterValueException for
// semantic ones). Pure functions.
#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <string_view>

#include "api/function_record.h"
#include "core/result.h"

namespace lamina::api {

struct FunctionRef {
  std::string name;
  std::string qualifier;  // empty when none
};

// Parses a FunctionName path parameter (already percent-decoded): "f", "f:qual", "000000000000:function:f",
// or a full function ARN. `maxLength` is 140, or 170 for the operations whose model allows it.
Result<FunctionRef> parseFunctionRef(std::string_view text, size_t maxLength = 140);

// Applies the configuration fields present in `body` to `record`. `creating` selects CreateFunction
// rules (required fields). Collects every model constraint violation into one ValidationException
// like AWS ("2 validation errors detected: ...; ...").
Result<void> applyConfiguration(const boost::json::object& body, FunctionRecord& record, bool creating);

// Alias names: 1-128 of [a-zA-Z0-9-_], not all digits. Versions: "$LATEST" or a version number
// (1-18 digits: what fits the int64 lamina numbers versions with).
bool isAliasName(std::string_view s);
bool isVersionNumber(std::string_view s);
bool isVersion(std::string_view s);
// Applies CreateAlias / UpdateAlias fields (Name, FunctionVersion, Description, RoutingConfig) with
// AWS's validation; `creating` requires Name and FunctionVersion.
Result<void> applyAlias(const boost::json::object& body, AliasRecord& alias, bool creating);

// The body of Put/UpdateFunctionEventInvokeConfig, checked against the model (ranges, the
// destination ARN pattern) and for AWS's "at least one setting" rule. Whether destinations exist
// is the caller's to check.
struct EventInvokeConfigInput {
  EventInvokeConfig config;   // what the body sets; unset numbers are -1, unset destinations ""
  bool successGiven = false;  // DestinationConfig.OnSuccess / OnFailure appeared (maybe empty)
  bool failureGiven = false;
  std::string described;  // AWS's rendering: "DestinationConfig(onSuccess=OnSuccess(destination=…), onFailure=null)"
};
Result<EventInvokeConfigInput> parseEventInvokeConfig(const boost::json::object& body);

// AWS's reserved environment variable names (cannot be set through Environment.Variables).
bool isReservedVariable(std::string_view name);

}  // namespace lamina::api
