// LogStore: the durable CloudWatch-Logs-like store behind core::LogSink and the Logs API.
//
// Groups contain streams; a stream is an append-only file of events (format in log_format.h). The
// index of groups and streams (creation times, first/last event timestamps, stored bytes) lives in
// memory and is rebuilt from the files by open(), so everything survives a daemon restart.
//
// Writes never touch the disk on the caller's thread: append(), putEvents(), createGroup() and
// createStream() update the index and queue the bytes; a writer thread owned by the store writes
// the queue every ~50 ms, or sooner once it passes 256 KB. flush() writes it synchronously. Reads
// (readEvents) flush first, so they see everything appended before the call.
//
// Thread-safety: every public member may be called from any thread. Locks: mu_ guards the index and
// the queue and is never held across I/O; ioMu_ serializes file mutation (the writer, flush(),
// deleteGroup()) and is taken before mu_, never by append(). The Clock passed to open() must
// outlive the store.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/log_sink.h"
#include "core/result.h"
#include "core/time.h"
#include "core/unique_fd.h"

namespace lamina::services::logs {

struct GroupInfo {
  std::string name;
  int64_t creationTime = 0;
  int64_t storedBytes = 0;
};

struct StreamInfo {
  std::string name;
  int64_t creationTime = 0;
  std::optional<int64_t> firstEventTimestamp;  // smallest event timestamp
  std::optional<int64_t> lastEventTimestamp;   // largest event timestamp
  std::optional<int64_t> lastIngestionTime;
  int64_t storedBytes = 0;
  uint64_t eventCount = 0;
};

struct StoredEvent {
  int64_t timestamp = 0;
  int64_t ingestionTime = 0;
  std::string message;
  // 1-based position of the event in its stream (append order); stable for the stream's lifetime.
  uint64_t seq = 0;
};

struct NewEvent {
  int64_t timestamp = 0;
  std::string_view message;
};

class LogStore final : public core::LogSink {
 public:
  // Creates `root` if needed, rebuilds the index from it and starts the writer thread.
  static Result<std::unique_ptr<LogStore>> open(const std::filesystem::path& root, const core::Clock& clock);
  // Stops the writer, then writes whatever is still queued.
  ~LogStore() override;
  LogStore(const LogStore&) = delete;
  LogStore& operator=(const LogStore&) = delete;

  // core::LogSink. Creates group and stream as needed; ingestion time is the clock's now. Empty
  // names are ignored; if the queue is over its hard cap (the disk is failing) the event is dropped
  // and counted in droppedEvents().
  void append(std::string_view group, std::string_view stream, int64_t timestampMs, std::string_view message) override;

  // Returns once everything queued before the call is written (or failed: see lastWriteError()).
  void flush();

  // kResourceConflict if the group exists.
  Result<void> createGroup(std::string_view group, int64_t nowMs);
  // kResourceNotFound without the group, kResourceConflict if the stream exists.
  Result<void> createStream(std::string_view group, std::string_view stream, int64_t nowMs);
  // Removes the group, its streams and files. kResourceNotFound without the group.
  Result<void> deleteGroup(std::string_view group);
  // Appends to an existing stream (PutLogEvents); kResourceNotFound if group or stream is missing.
  Result<void> putEvents(std::string_view group, std::string_view stream, std::span<const NewEvent> events,
                         int64_t ingestionMs);

  // Groups whose name starts with `prefix`, sorted by name.
  std::vector<GroupInfo> groups(std::string_view prefix = {}) const;
  std::optional<GroupInfo> group(std::string_view name) const;
  // Streams of `group` sorted by name; kResourceNotFound without the group.
  Result<std::vector<StreamInfo>> streams(std::string_view group) const;
  // kResourceNotFound (message names group or stream) if either is missing.
  Result<StreamInfo> stream(std::string_view group, std::string_view stream) const;

  // Events of one stream with fromMs <= timestamp <= toMs, in append order (seq ascending).
  Result<std::vector<StoredEvent>> readEvents(std::string_view group, std::string_view stream, int64_t fromMs,
                                              int64_t toMs);

  uint64_t droppedEvents() const;
  // The last failed write ("" if none); the writer cannot return errors to anyone else.
  std::string lastWriteError() const;

 private:
  struct Stream {
    StreamInfo info;
    std::string file;  // diskName(stream) + ".log"
  };
  struct Group {
    std::string name;
    std::string dir;  // diskName(group)
    int64_t creationTime = 0;
    std::map<std::string, Stream, std::less<>> streams;
  };
  // Bytes to append to <dir>/<file>.
  struct Record {
    std::string dir;
    std::string file;
    std::string text;
  };

  LogStore(core::UniqueFd rootFd, const core::Clock& clock);

  // Index helpers; caller holds mu_.
  Group& ensureGroupLocked(std::string_view name, int64_t nowMs);
  Stream& ensureStreamLocked(Group& g, std::string_view name, int64_t nowMs);
  // Updates the stream's index entry and queues `line` (formatLine + '\n') for it.
  void queueEventLocked(Group& g, Stream& s, int64_t timestampMs, int64_t ingestionMs, std::string line);
  void queueLocked(std::string_view dir, std::string_view file, std::string text);

  void writerLoop();
  // Caller holds ioMu_ (not mu_).
  void writeRecords(std::vector<Record> records);
  void noteWriteError(std::string what);

  // Rebuilds the index from the files (log_store_files.cpp); only from open(), before the writer runs.
  Result<void> scan();
  Result<void> scanGroup(const std::string& dir);
  // Unlinks the files of a (flat) group directory and the directory; caller holds ioMu_.
  Result<void> removeGroupDir(const std::string& dir);

  const core::UniqueFd rootFd_;
  const core::Clock& clock_;

  // Serializes writes to the files; acquired before mu_, never held by append().
  std::mutex ioMu_;

  mutable std::mutex mu_;
  std::map<std::string, Group, std::less<>> groups_;  // GUARDED_BY(mu_)
  std::vector<Record> pending_;                       // GUARDED_BY(mu_)
  size_t pendingBytes_ = 0;                           // GUARDED_BY(mu_)
  uint64_t dropped_ = 0;                              // GUARDED_BY(mu_)
  std::string lastWriteError_;                        // GUARDED_BY(mu_)
  bool stopping_ = false;                             // GUARDED_BY(mu_)
  std::condition_variable wake_;                      // signalled with mu_

  std::thread writer_;  // started by open(), joined by the destructor
};

}  // namespace lamina::services::logs
