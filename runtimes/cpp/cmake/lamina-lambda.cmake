# lamina's C++ Lambda SDK for CMake projects (include() this file):
#  - target AWS::aws-lambda-runtime (alias of lamina::lambda-runtime): the header-only SDK, so
#    `target_link_libraries(app PRIVATE AWS::aws-lambda-runtime)` from aws-lambda-cpp's README works;
#  - aws_lambda_package_target(<target>): a custom target aws-lambda-package-<target> that writes
#    <target>.zip with the executable as `bootstrap` plus the shared libraries it links that are not
#    part of the C runtime every Linux host has (glibc's libc/libm/libpthread/libdl/librt and the
#    loader stay out; libstdc++ and libgcc_s go in unless the target links them statically), ready
#    for `aws lambda create-function --runtime provided.al2023 --handler bootstrap --zip-file`.
cmake_minimum_required(VERSION 3.16)

get_filename_component(_LAMINA_LAMBDA_ROOT "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
if(NOT TARGET lamina::lambda-runtime)
  add_library(lamina_lambda_runtime INTERFACE)
  target_include_directories(lamina_lambda_runtime INTERFACE "${_LAMINA_LAMBDA_ROOT}/include")
  target_compile_features(lamina_lambda_runtime INTERFACE cxx_std_17)
  add_library(lamina::lambda-runtime ALIAS lamina_lambda_runtime)
  add_library(AWS::aws-lambda-runtime ALIAS lamina_lambda_runtime)
endif()

function(aws_lambda_package_target target)
  set(zip "${CMAKE_CURRENT_BINARY_DIR}/${target}.zip")
  set(stage "${CMAKE_CURRENT_BINARY_DIR}/${target}-package")
  add_custom_target(aws-lambda-package-${target}
    COMMAND ${CMAKE_COMMAND} -DBINARY=$<TARGET_FILE:${target}> -DSTAGE=${stage} -DZIP=${zip}
            -P "${_LAMINA_LAMBDA_ROOT}/cmake/lamina-lambda-package.cmake"
    DEPENDS ${target}
    BYPRODUCTS ${zip}
    COMMENT "Packaging ${target} as ${zip}"
    VERBATIM)
endfunction()
