// aws-lambda-cpp's README hello-world, in its shape and with its includes: the same source builds
// against AWS's library and against lamina's header-only SDK (runtimes/cpp).
#include <aws/lambda-runtime/runtime.h>

using namespace aws::lambda_runtime;

invocation_response my_handler(invocation_request const& request)
{
    (void)request;
    return invocation_response::success("Hello, World!", "application/json");
}

int main()
{
    run_handler(my_handler);
    return 0;
}
