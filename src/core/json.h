// JSON helpers over Boost.JSON that never throw: parse into a Result, typed field readers that
// report the AWS-style error naming the field. Thread-safe (pure).
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace lamina::core {

namespace json = boost::json;

// Parses `text`; malformed JSON → kInvalidRequestContent ("Could not parse request body into json").
Result<json::value> parseJson(std::string_view text);
// Like parseJson but requires an object at the top.
Result<json::object> parseJsonObject(std::string_view text);

std::string serialize(const json::value& v);

// Lambda's error document {"errorMessage":…,"errorType":…}: what the platform returns to the caller
// for errors it generates (timeouts, crashes, oversize responses, init failures).
std::string errorDocument(std::string_view type, std::string_view message);

// Typed optional readers: absent or null → nullopt; wrong type → kInvalidRequestContent naming `key`.
Result<std::optional<std::string>> getString(const json::object& o, std::string_view key);
Result<std::optional<int64_t>> getInt(const json::object& o, std::string_view key);
Result<std::optional<bool>> getBool(const json::object& o, std::string_view key);
Result<const json::object*> getObject(const json::object& o, std::string_view key);

}  // namespace lamina::core
