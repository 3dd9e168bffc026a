// Fuzz target: the Lambda API's readers of client bytes — the FunctionName path parameter and the
// JSON bodies of CreateFunction / UpdateFunctionConfiguration / CreateAlias / UpdateAlias /
// Put/UpdateFunctionEventInvokeConfig (parse,
// then validate and apply), and the stored documents read back at start.
// Whatever the input, they must return a value or an AWS error, never crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "api/function_record.h"
#include "api/validation.h"
#include "core/json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)lamina::api::parseFunctionRef(text, 170);
  auto body = lamina::core::parseJsonObject(text);
  if (body) {
    lamina::api::FunctionRecord record;
    (void)lamina::api::applyConfiguration(*body, record, true);
    lamina::api::FunctionRecord update;
    (void)lamina::api::applyConfiguration(*body, update, false);
    lamina::api::AliasRecord alias, changed{.name = "live", .functionVersion = "1"};
    (void)lamina::api::applyAlias(*body, alias, true);
    (void)lamina::api::applyAlias(*body, changed, false);
    (void)lamina::api::parseEventInvokeConfig(*body);
  }
  (void)lamina::api::FunctionRecord::fromStorage(text);
  (void)lamina::api::AliasRecord::fromStorage(text);
  (void)lamina::api::EventInvokeConfig::fromStorage(text);
  return 0;
}
