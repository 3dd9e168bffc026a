// KeepAlivePolicy: how long an idle environment of a function is kept warm.
//
//   fixed     every function: the configured keep-alive (AWS-like; the default).
//   adaptive  per function, from its own history of idle gaps (the time from one invocation's
//             arrival to the next's): the hybrid histogram policy of Shahrad et al., "Serverless in
//             the Wild" (USENIX ATC 2020). Gaps go into a histogram of `binWidth` bins over `range`;
//             once it holds enough gaps and is not flat (coefficient of variation of the bin counts
//             >= 2, as in the paper), the environment is unloaded right after an invocation and
//             pre-warmed again at the 5th percentile gap minus 10 % (`prewarm`), then kept until the
//             99th percentile gap plus 10 % (`keepAlive` counts from the pre-warm). Otherwise (too
//             few gaps, a flat histogram, or mostly gaps beyond the range) the fixed keep-alive.
//             Pre-warms begin `prewarmLead` early so that Init is done when the call comes.
//
// Pure: time is passed in, so the bench can replay a trace on a virtual clock. Not thread-safe;
// the scheduler uses it on the I/O thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace lamina::scheduler {

struct KeepAliveOptions {
  bool adaptive = false;
  std::chrono::milliseconds fixed{std::chrono::minutes(10)};
  std::chrono::milliseconds binWidth{std::chrono::minutes(1)};
  std::chrono::milliseconds range{std::chrono::hours(4)};
  int minSamples = 10;  // gaps needed before the histogram is trusted
  // A pre-warm starts this much earlier than the paper's 5th-percentile-less-10 % (an Init takes
  // time); a pre-warm that would come sooner than that is not done (the environment stays warm).
  std::chrono::milliseconds prewarmLead{std::chrono::seconds(2)};
};

class KeepAlivePolicy {
 public:
  using Time = std::chrono::milliseconds;  // any monotonic origin
  explicit KeepAlivePolicy(KeepAliveOptions options) : options_(options) {}

  // An invocation of `function` arrived at `now`.
  void arrived(const std::string& function, Time now);
  struct Windows {
    std::chrono::milliseconds prewarm{0};  // 0: keep the environment; else unload, reload after this
    std::chrono::milliseconds keepAlive;   // how long it stays warm (after the pre-warm, if any)
  };
  Windows windows(const std::string& function) const;
  // How long an idle environment of `function` stays warm (windows().keepAlive).
  std::chrono::milliseconds keepAlive(const std::string& function) const { return windows(function).keepAlive; }
  void forget(const std::string& function) { history_.erase(function); }
  const KeepAliveOptions& options() const { return options_; }

 private:
  struct History {
    Time last{-1};
    std::vector<uint32_t> bins;  // gap counts per binWidth
    uint32_t inRange = 0, outOfRange = 0;
    Windows window{std::chrono::milliseconds(0), std::chrono::milliseconds(0)};  // keepAlive 0: use the fixed one
  };
  void recompute(History& h) const;

  KeepAliveOptions options_;
  std::unordered_map<std::string, History> history_;
};

}  // namespace lamina::scheduler
