#include "invoke/metrics.h"

#include <fmt/format.h>

#include <set>

namespace lamina::invoke {

namespace {

// Label values: function names and versions are [A-Za-z0-9-_$], but escape as the format asks.
std::string label(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace

void Metrics::invoked(const std::string& function, const std::string& version, double durationMs, bool error, bool cold,
                      double initMs) {
  Series& s = series_[{function, version}];
  ++s.invocations;
  if (error) ++s.errors;
  if (cold) {
    ++s.coldStarts;
    s.initMsSum += initMs;
  }
  size_t b = 0;
  while (b < kBucketsMs.size() && durationMs > kBucketsMs[b]) ++b;
  ++s.durationBuckets[b];
  s.durationMsSum += durationMs;
}

void Metrics::throttled(const std::string& function, const std::string& version) {
  ++series_[{function, version}].throttles;
}

std::string Metrics::render(
    const std::function<int(const std::string&)>& concurrency, int accountConcurrency,
    const std::function<std::pair<int, int>(const std::string&, const std::string&)>& provisioned) const {
  std::string out;
  auto counter = [&](const char* name, const char* help, auto field) {
    out += fmt::format("# HELP {} {}\n# TYPE {} counter\n", name, help, name);
    for (const auto& [key, s] : series_)
      out +=
          fmt::format("{}{{function=\"{}\",version=\"{}\"}} {}\n", name, label(key.first), label(key.second), field(s));
  };
  counter("lamina_invocations_total", "Invocations that ran (successful or not).",
          [](const Series& s) { return s.invocations; });
  counter("lamina_errors_total", "Invocations that ended with a function error, timeout or crash.",
          [](const Series& s) { return s.errors; });
  counter("lamina_throttles_total", "Invocations refused with 429 TooManyRequestsException.",
          [](const Series& s) { return s.throttles; });
  counter("lamina_cold_starts_total", "Invocations that started a new execution environment.",
          [](const Series& s) { return s.coldStarts; });
  counter("lamina_init_duration_milliseconds_sum", "Total Init Duration of cold starts.",
          [](const Series& s) { return fmt::format("{:.3f}", s.initMsSum); });

  const char* hist = "lamina_duration_milliseconds";
  out += fmt::format("# HELP {} Invocation duration (REPORT's Duration).\n# TYPE {} histogram\n", hist, hist);
  for (const auto& [key, s] : series_) {
    std::string labels = fmt::format("function=\"{}\",version=\"{}\"", label(key.first), label(key.second));
    uint64_t cumulative = 0;
    for (size_t b = 0; b < kBucketsMs.size(); ++b) {
      cumulative += s.durationBuckets[b];
      out += fmt::format("{}_bucket{{{},le=\"{}\"}} {}\n", hist, labels, kBucketsMs[b], cumulative);
    }
    cumulative += s.durationBuckets.back();
    out += fmt::format("{}_bucket{{{},le=\"+Inf\"}} {}\n", hist, labels, cumulative);
    out += fmt::format("{}_sum{{{}}} {:.3f}\n{}_count{{{}}} {}\n", hist, labels, s.durationMsSum, hist, labels,
                       s.invocations);
  }

  std::string allocated, inUse;
  for (const auto& [key, s] : series_) {
    auto [a, u] = provisioned(key.first, key.second);
    if (a == 0 && u == 0) continue;
    std::string labels = fmt::format("function=\"{}\",version=\"{}\"", label(key.first), label(key.second));
    allocated += fmt::format("lamina_provisioned_concurrency_allocated{{{}}} {}\n", labels, a);
    inUse += fmt::format("lamina_provisioned_concurrency_in_use{{{}}} {}\n", labels, u);
  }
  out +=
      "# HELP lamina_provisioned_concurrency_allocated Provisioned environments that finished Init.\n"
      "# TYPE lamina_provisioned_concurrency_allocated gauge\n" +
      allocated +
      "# HELP lamina_provisioned_concurrency_in_use Provisioned environments running an invocation.\n"
      "# TYPE lamina_provisioned_concurrency_in_use gauge\n" +
      inUse;
  out += "# HELP lamina_concurrent_executions Invocations running now.\n# TYPE lamina_concurrent_executions gauge\n";
  std::set<std::string> functions;
  for (const auto& [key, s] : series_) functions.insert(key.first);
  int total = 0;
  for (const auto& f : functions) {
    int n = concurrency(f);
    total += n;
    out += fmt::format("lamina_concurrent_executions{{function=\"{}\"}} {}\n", label(f), n);
  }
  out += fmt::format(
      "# HELP lamina_account_concurrent_executions Invocations running now in the account.\n"
      "# TYPE lamina_account_concurrent_executions gauge\nlamina_account_concurrent_executions {}\n"
      "# HELP lamina_account_concurrency_limit The account's concurrency limit.\n"
      "# TYPE lamina_account_concurrency_limit gauge\nlamina_account_concurrency_limit {}\n",
      total, accountConcurrency);
  return out;
}

}  // namespace lamina::invoke
