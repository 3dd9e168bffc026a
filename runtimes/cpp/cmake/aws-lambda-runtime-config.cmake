# Lets an aws-lambda-cpp project's unchanged `find_package(aws-lambda-runtime)` find lamina's SDK:
#   cmake -S <project> -B <build> -Daws-lambda-runtime_DIR=<lamina>/runtimes/cpp/cmake
# It defines what aws-lambda-cpp's package config does: AWS::aws-lambda-runtime and
# aws_lambda_package_target().
include("${CMAKE_CURRENT_LIST_DIR}/lamina-lambda.cmake")
set(aws-lambda-runtime_FOUND TRUE)
