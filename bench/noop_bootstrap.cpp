// The benchmark's function: a no-op C++ Lambda function built with lamina's C++ SDK
// (runtimes/cpp, source-compatible with aws-lambda-cpp) that echoes the event back — so latency
// measures lamina and the SDK a C++ user would ship, nothing else.
#include <aws/lambda-runtime/runtime.h>

using namespace aws::lambda_runtime;

static invocation_response echo(invocation_request const& request) {
  return invocation_response::success(request.payload, "application/json");
}

int main() {
  run_handler(echo);
  return 0;
}
