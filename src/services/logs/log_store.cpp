#include "services/logs/log_store.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <system_error>

#include "core/strings.h"
#include "services/logs/log_format.h"

namespace lamina::services::logs {

namespace {

constexpr auto kWriteInterval = std::chrono::milliseconds(50);
constexpr size_t kWakeBytes = 256 * 1024;
// Past this the disk is not keeping up; append() drops rather than grow without bound.
constexpr size_t kMaxPendingBytes = 64 * 1024 * 1024;

bool writeAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(size_t(n));
  }
  return true;
}

std::string storedLine(int64_t timestampMs, int64_t ingestionMs, std::string_view message) {
  std::string line = formatLine(timestampMs, ingestionMs, message);
  line.push_back('\n');
  return line;
}

}  // namespace

LogStore::LogStore(core::UniqueFd rootFd, const core::Clock& clock) : rootFd_(std::move(rootFd)), clock_(clock) {}

Result<std::unique_ptr<LogStore>> LogStore::open(const std::filesystem::path& root, const core::Clock& clock) {
  std::error_code ec;
  std::filesystem::create_directories(root, ec);
  if (ec) return fail(Code::kInternal, "creating log store " + root.string() + ": " + ec.message());
  core::UniqueFd fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return failErrno("opening log store " + root.string(), errno);
  std::unique_ptr<LogStore> store(new LogStore(std::move(fd), clock));
  if (auto r = store->scan(); !r) return std::unexpected(std::move(r.error().context("scanning log store")));
  LogStore* self = store.get();
  store->writer_ = std::thread([self] { self->writerLoop(); });
  return store;
}

LogStore::~LogStore() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (writer_.joinable()) writer_.join();
  flush();
}

// ---- writes (queue only) ----

LogStore::Group& LogStore::ensureGroupLocked(std::string_view name, int64_t nowMs) {
  auto it = groups_.find(name);
  if (it != groups_.end()) return it->second;
  Group g{.name = std::string(name), .dir = diskName(name), .creationTime = nowMs};
  queueLocked(g.dir, kMetaFile, fmt::format("G {} {}\n", nowMs, encodeName(name)));
  return groups_.emplace(std::string(name), std::move(g)).first->second;
}

LogStore::Stream& LogStore::ensureStreamLocked(Group& g, std::string_view name, int64_t nowMs) {
  auto it = g.streams.find(name);
  if (it != g.streams.end()) return it->second;
  Stream s;  // (not designated initializers: GCC 12 -O2 warns maybe-uninitialized on the nested ones)
  s.info.name = std::string(name);
  s.info.creationTime = nowMs;
  s.file = diskName(name) + std::string(kLogSuffix);
  queueLocked(g.dir, kMetaFile, fmt::format("S {} {}\n", nowMs, encodeName(name)));
  return g.streams.emplace(std::string(name), std::move(s)).first->second;
}

void LogStore::queueEventLocked(Group& g, Stream& s, int64_t timestampMs, int64_t ingestionMs, std::string line) {
  StreamInfo& info = s.info;
  info.firstEventTimestamp = info.firstEventTimestamp ? std::min(*info.firstEventTimestamp, timestampMs) : timestampMs;
  info.lastEventTimestamp = info.lastEventTimestamp ? std::max(*info.lastEventTimestamp, timestampMs) : timestampMs;
  info.lastIngestionTime = info.lastIngestionTime ? std::max(*info.lastIngestionTime, ingestionMs) : ingestionMs;
  info.storedBytes += int64_t(line.size());
  ++info.eventCount;
  queueLocked(g.dir, s.file, std::move(line));
}

void LogStore::queueLocked(std::string_view dir, std::string_view file, std::string text) {
  pendingBytes_ += text.size();
  pending_.push_back(Record{std::string(dir), std::string(file), std::move(text)});
  if (pendingBytes_ >= kWakeBytes) wake_.notify_one();
}

void LogStore::append(std::string_view group, std::string_view stream, int64_t timestampMs, std::string_view message) {
  if (group.empty() || stream.empty()) return;
  int64_t now = clock_.nowMs();
  std::string line = storedLine(timestampMs, now, message);  // formatted before taking the lock
  std::lock_guard lk(mu_);
  if (pendingBytes_ > kMaxPendingBytes) {
    ++dropped_;
    return;
  }
  Group& g = ensureGroupLocked(group, now);
  Stream& s = ensureStreamLocked(g, stream, now);
  queueEventLocked(g, s, timestampMs, now, std::move(line));
}

Result<void> LogStore::createGroup(std::string_view group, int64_t nowMs) {
  std::lock_guard lk(mu_);
  if (groups_.contains(group)) return fail(Code::kResourceConflict, "The specified log group already exists");
  ensureGroupLocked(group, nowMs);
  return {};
}

Result<void> LogStore::createStream(std::string_view group, std::string_view stream, int64_t nowMs) {
  std::lock_guard lk(mu_);
  auto it = groups_.find(group);
  if (it == groups_.end()) return fail(Code::kResourceNotFound, "The specified log group does not exist.");
  if (it->second.streams.contains(stream))
    return fail(Code::kResourceConflict, "The specified log stream already exists");
  ensureStreamLocked(it->second, stream, nowMs);
  return {};
}

Result<void> LogStore::putEvents(std::string_view group, std::string_view stream, std::span<const NewEvent> events,
                                 int64_t ingestionMs) {
  std::lock_guard lk(mu_);
  auto git = groups_.find(group);
  if (git == groups_.end()) return fail(Code::kResourceNotFound, "The specified log group does not exist.");
  auto sit = git->second.streams.find(stream);
  if (sit == git->second.streams.end())
    return fail(Code::kResourceNotFound, "The specified log stream does not exist.");
  if (pendingBytes_ > kMaxPendingBytes) return fail(Code::kServiceUnavailable, "The log store is not keeping up");
  for (const NewEvent& e : events)
    queueEventLocked(git->second, sit->second, e.timestamp, ingestionMs,
                     storedLine(e.timestamp, ingestionMs, e.message));
  return {};
}

Result<void> LogStore::deleteGroup(std::string_view group) {
  std::lock_guard io(ioMu_);  // the writer cannot be between taking the queue and writing it
  std::string dir;
  {
    std::lock_guard lk(mu_);
    auto it = groups_.find(group);
    if (it == groups_.end()) return fail(Code::kResourceNotFound, "The specified log group does not exist.");
    dir = it->second.dir;
    groups_.erase(it);
    std::erase_if(pending_, [&dir, this](const Record& r) {
      if (r.dir != dir) return false;
      pendingBytes_ -= r.text.size();
      return true;
    });
  }
  return removeGroupDir(dir);
}

// ---- the writer ----

void LogStore::writerLoop() {
  std::unique_lock lk(mu_);
  while (!stopping_) {
    wake_.wait_for(lk, kWriteInterval, [this] { return stopping_ || pendingBytes_ >= kWakeBytes; });
    if (stopping_) break;
    if (pending_.empty()) continue;
    lk.unlock();
    flush();
    lk.lock();
  }
}

void LogStore::flush() {
  std::lock_guard io(ioMu_);
  std::vector<Record> batch;
  {
    std::lock_guard lk(mu_);
    batch.swap(pending_);
    pendingBytes_ = 0;
  }
  if (!batch.empty()) writeRecords(std::move(batch));
}

void LogStore::writeRecords(std::vector<Record> records) {
  // Merge per directory and file, keeping order within each file; `.meta` first in each directory
  // so that a crash never leaves a long-named log file whose name cannot be recovered.
  std::map<std::string, std::map<std::string, std::string>> byDir;
  for (Record& r : records) byDir[std::move(r.dir)][std::move(r.file)] += r.text;
  for (auto& [dir, files] : byDir) {
    if (::mkdirat(rootFd_.get(), dir.c_str(), 0755) != 0 && errno != EEXIST) {
      noteWriteError(fmt::format("creating {}: {}", dir, std::strerror(errno)));
      continue;
    }
    core::UniqueFd dfd(::openat(rootFd_.get(), dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dfd.valid()) {
      noteWriteError(fmt::format("opening {}: {}", dir, std::strerror(errno)));
      continue;
    }
    auto writeFile = [&dfd, &dir, this](const std::string& file, std::string_view text) {
      core::UniqueFd fd(::openat(dfd.get(), file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644));
      if (!fd.valid() || !writeAll(fd.get(), text))
        noteWriteError(fmt::format("appending to {}/{}: {}", dir, file, std::strerror(errno)));
    };
    std::string meta(kMetaFile);
    if (auto m = files.find(meta); m != files.end()) writeFile(m->first, m->second);
    for (const auto& [file, text] : files)
      if (file != meta) writeFile(file, text);
  }
}

void LogStore::noteWriteError(std::string what) {
  std::lock_guard lk(mu_);
  lastWriteError_ = std::move(what);
}

// ---- queries ----

std::vector<GroupInfo> LogStore::groups(std::string_view prefix) const {
  std::lock_guard lk(mu_);
  std::vector<GroupInfo> out;
  for (auto it = groups_.lower_bound(prefix); it != groups_.end() && core::startsWith(it->first, prefix); ++it) {
    GroupInfo info{.name = it->second.name, .creationTime = it->second.creationTime};
    for (const auto& [_, s] : it->second.streams) info.storedBytes += s.info.storedBytes;
    out.push_back(std::move(info));
  }
  return out;
}

std::optional<GroupInfo> LogStore::group(std::string_view name) const {
  std::lock_guard lk(mu_);
  auto it = groups_.find(name);
  if (it == groups_.end()) return std::nullopt;
  GroupInfo info{.name = it->second.name, .creationTime = it->second.creationTime};
  for (const auto& [_, s] : it->second.streams) info.storedBytes += s.info.storedBytes;
  return info;
}

Result<std::vector<StreamInfo>> LogStore::streams(std::string_view group) const {
  std::lock_guard lk(mu_);
  auto it = groups_.find(group);
  if (it == groups_.end()) return fail(Code::kResourceNotFound, "The specified log group does not exist.");
  std::vector<StreamInfo> out;
  out.reserve(it->second.streams.size());
  for (const auto& [_, s] : it->second.streams) out.push_back(s.info);
  return out;
}

Result<StreamInfo> LogStore::stream(std::string_view group, std::string_view stream) const {
  std::lock_guard lk(mu_);
  auto git = groups_.find(group);
  if (git == groups_.end()) return fail(Code::kResourceNotFound, "The specified log group does not exist.");
  auto sit = git->second.streams.find(stream);
  if (sit == git->second.streams.end())
    return fail(Code::kResourceNotFound, "The specified log stream does not exist.");
  return sit->second.info;
}

uint64_t LogStore::droppedEvents() const {
  std::lock_guard lk(mu_);
  return dropped_;
}

std::string LogStore::lastWriteError() const {
  std::lock_guard lk(mu_);
  return lastWriteError_;
}

}  // namespace lamina::services::logs
