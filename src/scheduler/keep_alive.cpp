#include "scheduler/keep_alive.h"

#include <algorithm>
#include <cmath>

namespace lamina::scheduler {

void KeepAlivePolicy::arrived(const std::string& function, Time now) {
  if (!options_.adaptive) return;
  History& h = history_[function];
  if (h.bins.empty()) h.bins.assign(size_t(std::max<int64_t>(1, options_.range / options_.binWidth)), 0);
  if (h.last.count() >= 0) {
    auto gap = now - h.last;
    size_t bin = size_t(std::max<int64_t>(0, gap / options_.binWidth));
    if (bin < h.bins.size()) {
      ++h.bins[bin];
      ++h.inRange;
    } else {
      ++h.outOfRange;
    }
    recompute(h);
  }
  h.last = now;
}

void KeepAlivePolicy::recompute(History& h) const {
  h.window = Windows{std::chrono::milliseconds(0), std::chrono::milliseconds(0)};
  // Mostly gaps beyond the range: the histogram says nothing useful (the paper uses ARIMA there).
  if (h.inRange < uint32_t(options_.minSamples) || h.outOfRange * 2 > h.inRange) return;
  double n = double(h.bins.size()), mean = double(h.inRange) / n, var = 0;
  for (uint32_t c : h.bins) var += (double(c) - mean) * (double(c) - mean);
  double cv = mean > 0 ? std::sqrt(var / n) / mean : 0;
  if (cv < 2.0) return;  // flat: no pattern to follow
  auto percentileBin = [&](double q) {
    uint32_t target = std::max<uint32_t>(1, uint32_t(std::ceil(q * h.inRange))), seen = 0;
    for (size_t b = 0; b < h.bins.size(); ++b) {
      seen += h.bins[b];
      if (seen >= target) return int64_t(b);
    }
    return int64_t(h.bins.size()) - 1;
  };
  auto head = options_.binWidth * percentileBin(0.05);        // the 5th percentile bin's lower edge
  auto tail = options_.binWidth * (percentileBin(0.99) + 1);  // the 99th percentile bin's upper edge
  std::chrono::milliseconds prewarm = head - head / 10 - options_.prewarmLead;
  if (prewarm.count() < 0) prewarm = std::chrono::milliseconds(0);
  std::chrono::milliseconds end = std::min<std::chrono::milliseconds>(options_.range, tail + tail / 10);
  h.window = Windows{prewarm, std::max<std::chrono::milliseconds>(end - prewarm, options_.binWidth)};
}

KeepAlivePolicy::Windows KeepAlivePolicy::windows(const std::string& function) const {
  Windows fixed{std::chrono::milliseconds(0), options_.fixed};
  if (!options_.adaptive) return fixed;
  auto it = history_.find(function);
  if (it == history_.end() || it->second.window.keepAlive.count() == 0) return fixed;
  return it->second.window;
}

}  // namespace lamina::scheduler
