// AsyncTarget: what an asynchronous event runs and how its outcome is handled, as the control
// plane resolves it at each attempt. Plain values; a light header for the api layer's resolver.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "runtime/function_image.h"

namespace lamina::invoke {

// AWS raised the asynchronous payload limit from 256 KB to 1 MB in 2025.
constexpr size_t kMaxAsyncPayloadBytes = 1048576;

// What an event's function and qualifier mean at the moment it runs (resolved at every attempt:
// configuration changes apply to queued events, as on AWS).
struct AsyncTarget {
  std::shared_ptr<const runtime::FunctionImage> image;
  std::string invokedArn;   // as the runtime sees it (unqualified when invoked unqualified)
  std::string functionArn;  // as invocation records name it: always qualified (…:$LATEST)
  int maxRetries = 2;
  int maxAgeSec = 21600;
  std::string onSuccess;  // destination ARNs ("" = none)
  std::string onFailure;
  std::string deadLetter;  // DeadLetterConfig.TargetArn ("" = none)
  bool disabled = false;   // reserved concurrency 0: no invocation, straight to the failure path
};

}  // namespace lamina::invoke
