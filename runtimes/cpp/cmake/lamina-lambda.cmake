# lamina's C++ Lambda SDK for CMake projects; include() this file (or find_package(aws-lambda-runtime)
# with aws-lambda-runtime_DIR pointing here, see aws-lambda-runtime-config.cmake). It provides:
#
#  - lamina::lambda-runtime, alias AWS::aws-lambda-runtime: an INTERFACE target carrying the
#    header-only SDK's include directory and C++17, so aws-lambda-cpp's
#    `target_link_libraries(app PRIVATE AWS::aws-lambda-runtime)` works unchanged.
#
#  - aws_lambda_package_target(<target> [NO_LIBC]): a custom target aws-lambda-package-<target> that
#    writes <build dir>/<target>.zip holding the executable as `bootstrap` and, under lib/ (which
#    Lambda's LD_LIBRARY_PATH covers), the shared libraries ldd says it loads — except the C and C++
#    runtimes: glibc's libraries and loader, libstdc++ and libgcc_s. lamina runs functions on the
#    host's own root file system, so those are always there, and are the very copies the binary was
#    built against; packaging them would only add megabytes and a second libc. (aws-lambda-cpp
#    packs glibc and a loader-wrapper script unless NO_LIBC; NO_LIBC is accepted here and changes
#    nothing.) For AWS itself, build on Amazon Linux 2023 or link with
#    `-static-libstdc++ -static-libgcc` (or -static). Libraries loaded with dlopen() are not seen by
#    ldd: add them yourself. The zip is made with `zip` when installed, else `cmake -E tar --format=zip`.
if(CMAKE_VERSION VERSION_LESS 3.21)
  message(FATAL_ERROR "lamina-lambda.cmake needs CMake 3.21 or later (file(COPY_FILE))")
endif()

set(_LAMINA_LAMBDA_DIR "${CMAKE_CURRENT_LIST_DIR}")

if(NOT TARGET lamina-lambda-runtime)
  add_library(lamina-lambda-runtime INTERFACE)
  target_include_directories(lamina-lambda-runtime INTERFACE "${_LAMINA_LAMBDA_DIR}/../include")
  target_compile_features(lamina-lambda-runtime INTERFACE cxx_std_17)
  add_library(lamina::lambda-runtime ALIAS lamina-lambda-runtime)
  add_library(AWS::aws-lambda-runtime ALIAS lamina-lambda-runtime)
endif()

function(aws_lambda_package_target target)
  cmake_parse_arguments(PARSE_ARGV 1 _pkg "NO_LIBC" "" "")
  set(zip "${CMAKE_CURRENT_BINARY_DIR}/${target}.zip")
  add_custom_target(aws-lambda-package-${target}
    COMMAND "${CMAKE_COMMAND}" "-DBINARY=$<TARGET_FILE:${target}>"
            "-DSTAGE=${CMAKE_CURRENT_BINARY_DIR}/${target}-package" "-DZIP=${zip}"
            -P "${_LAMINA_LAMBDA_DIR}/lamina-lambda-package.cmake"
    DEPENDS ${target}
    BYPRODUCTS "${zip}"
    COMMENT "Packaging ${target} as ${zip}"
    VERBATIM)
endfunction()
