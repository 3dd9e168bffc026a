// Test helpers for the logs unit tests: a settable clock and a temporary directory that removes
// itself. Single-threaded use except FakeClock, which may be read from any thread.
#pragma once

#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <string>

#include "core/time.h"

namespace lamina::services::logs::testing {

class FakeClock final : public core::Clock {
 public:
  explicit FakeClock(int64_t now) : now_(now) {}
  int64_t nowMs() const override { return now_.load(); }
  void set(int64_t now) { now_.store(now); }

 private:
  std::atomic<int64_t> now_;
};

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "lamina-logs-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data()) ? tmpl : std::string();
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace lamina::services::logs::testing
