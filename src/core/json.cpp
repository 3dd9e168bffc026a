#include "core/json.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace lamina::core {

Result<json::value> parseJson(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return fail(Code::kInvalidRequestContent, "Could not parse request body into json: " + ec.message());
  return v;
}

Result<json::object> parseJsonObject(std::string_view text) {
  auto v = parseJson(text);
  if (!v) return std::unexpected(v.error());
  if (!v->is_object())
    return fail(Code::kInvalidRequestContent, "Could not parse request body into json: expected an object");
  return std::move(v->as_object());
}

std::string serialize(const json::value& v) { return json::serialize(v); }

std::string errorDocument(std::string_view type, std::string_view message) {
  json::object o{{"errorMessage", message}, {"errorType", type}};
  return json::serialize(o);
}

namespace {
std::unexpected<Error> wrongType(std::string_view key, std::string_view want) {
  return fail(Code::kInvalidRequestContent,
              "Could not parse request body into json: field '" + std::string(key) + "' must be " + std::string(want));
}
}  // namespace

Result<std::optional<std::string>> getString(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return std::optional<std::string>();
  if (!it->value().is_string()) return wrongType(key, "a string");
  return std::optional<std::string>(std::string(it->value().as_string()));
}

Result<std::optional<int64_t>> getInt(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return std::optional<int64_t>();
  const json::value& v = it->value();
  if (v.is_int64()) return std::optional<int64_t>(v.as_int64());
  if (v.is_uint64() && v.as_uint64() <= uint64_t(INT64_MAX)) return std::optional<int64_t>(int64_t(v.as_uint64()));
  if (v.is_double() && v.as_double() == double(int64_t(v.as_double())))
    return std::optional<int64_t>(int64_t(v.as_double()));
  return wrongType(key, "an integer");
}

Result<std::optional<bool>> getBool(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return std::optional<bool>();
  if (!it->value().is_bool()) return wrongType(key, "a boolean");
  return std::optional<bool>(it->value().as_bool());
}

Result<const json::object*> getObject(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return static_cast<const json::object*>(nullptr);
  if (!it->value().is_object()) return wrongType(key, "an object");
  return &it->value().as_object();
}

}  // namespace lamina::core
