// aws::lambda_runtime::outcome<TResult, TFailure>: a value that is either a result or a failure, as
// aws-lambda-cpp's runtime calls return them (runtime::get_next() fails with an
// aws::http::response_code, for instance). Part of lamina's aws-lambda-cpp-compatible SDK.
//
// Contract as in aws-lambda-cpp: constructing from a TResult makes a success, from a TFailure a
// failure (so TResult and TFailure must differ); get_result() only on a success, get_failure() only
// on a failure (asserted in debug builds). A plain value: copy and move freely.
#pragma once

#include <cassert>
#include <utility>
#include <variant>

namespace aws {
namespace lambda_runtime {

template <typename TResult, typename TFailure>
class outcome {
 public:
  // Implicit on purpose: aws-lambda-cpp code writes `return response_code::...;` and `return {req};`.
  outcome(TResult const& s) : value_(std::in_place_index<0>, s) {}         // NOLINT(google-explicit-constructor)
  outcome(TResult&& s) : value_(std::in_place_index<0>, std::move(s)) {}   // NOLINT(google-explicit-constructor)
  outcome(TFailure const& f) : value_(std::in_place_index<1>, f) {}        // NOLINT(google-explicit-constructor)
  outcome(TFailure&& f) : value_(std::in_place_index<1>, std::move(f)) {}  // NOLINT(google-explicit-constructor)

  bool is_success() const { return value_.index() == 0; }

  TResult const& get_result() const& {
    assert(is_success());
    return *std::get_if<0>(&value_);
  }
  TResult&& get_result() && {
    assert(is_success());
    return std::move(*std::get_if<0>(&value_));
  }
  TFailure const& get_failure() const& {
    assert(!is_success());
    return *std::get_if<1>(&value_);
  }
  TFailure&& get_failure() && {
    assert(!is_success());
    return std::move(*std::get_if<1>(&value_));
  }

 private:
  std::variant<TResult, TFailure> value_;
};

}  // namespace lambda_runtime
}  // namespace aws
