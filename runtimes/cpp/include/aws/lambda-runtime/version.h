// The aws-lambda-cpp version whose public API lamina's C++ SDK reproduces (0.2.9, plus the
// invocation_request::content_type and tenant_id fields its master branch added since). Same
// functions as aws-lambda-cpp's version.h; here they are inline and need no generated source.
#pragma once

namespace aws {
namespace lambda_runtime {

inline unsigned get_version_major() { return 0; }
inline unsigned get_version_minor() { return 2; }
inline unsigned get_version_patch() { return 9; }

// "Major.Minor.Patch"; a string literal, valid for the life of the process.
inline char const* get_version() { return "0.2.9"; }

}  // namespace lambda_runtime
}  // namespace aws
