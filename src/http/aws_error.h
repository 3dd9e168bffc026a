// Renders an Error as the AWS REST-JSON error response a client expects: the status for its
// code, x-amzn-ErrorType, x-amzn-RequestId and a JSON body {"Type":"User","message":...} whose
// message key follows the Lambda model's spelling for that error.
#pragma once

#include <string_view>

#include "core/result.h"
#include "http/message.h"

namespace lamina::http {

Response awsError(const Error& error, std::string_view requestId);

}  // namespace lamina::http
