// The read side of the Logs API as typed queries over a LogStore: ordering, time windows, filter
// patterns, page sizes and pagination tokens. logs_api.cpp only translates JSON to these and back.
// Pure functions of the store's state; thread-safe as the store is.
//
// Tokens are opaque to clients and stable across restarts: they name a position (timestamp,
// stream, seq) rather than an offset, so pages stay correct while events keep arriving.
// A malformed token is kInvalidParameterValue ("The specified nextToken is invalid.").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "services/logs/log_store.h"

namespace lamina::services::logs {

// Responses stop growing at this many bytes (message bytes + 26 per event), like AWS's 1 MB.
inline constexpr size_t kMaxEventBytes = 1024 * 1024;

// GetLogEvents: one stream; startTime inclusive, endTime exclusive.
struct GetEventsQuery {
  std::string group;
  std::string stream;
  std::optional<int64_t> startTime;
  std::optional<int64_t> endTime;
  bool startFromHead = false;  // without a token: the first events, else the last ones
  size_t limit = 10000;
  std::optional<std::string> token;  // "f/…" or "b/…" from a previous page
};

struct GetEventsPage {
  std::vector<StoredEvent> events;  // ascending by (timestamp, seq)
  // At the end, the forward token equals the one passed in, as AWS does.
  std::string forwardToken;
  std::string backwardToken;
};

Result<GetEventsPage> getLogEvents(LogStore& store, const GetEventsQuery& q);

// FilterLogEvents: a group, optionally some streams; startTime and endTime inclusive.
struct FilterQuery {
  std::string group;
  std::vector<std::string> streamNames;  // empty = all
  std::optional<std::string> streamPrefix;
  std::optional<int64_t> startTime;
  std::optional<int64_t> endTime;
  std::string pattern;
  size_t limit = 10000;
  std::optional<std::string> token;
};

struct FilteredEvent {
  std::string stream;
  StoredEvent event;
  std::string eventId;
};

struct SearchedStream {
  std::string name;
  bool complete = false;
};

struct FilterPage {
  std::vector<FilteredEvent> events;  // ascending by (timestamp, stream, seq)
  std::vector<SearchedStream> searched;
  std::optional<std::string> nextToken;  // only when more events match
};

Result<FilterPage> filterLogEvents(LogStore& store, const FilterQuery& q);

// A stable id for an event: 56 digits from its timestamp, a hash of its stream name and its seq.
// `aws logs tail --follow` de-duplicates on it.
std::string eventId(std::string_view stream, const StoredEvent& e);

enum class StreamOrder { kLogStreamName, kLastEventTime };

struct StreamsQuery {
  std::string group;
  std::optional<std::string> prefix;  // not with kLastEventTime (kInvalidParameterValue, as AWS)
  StreamOrder order = StreamOrder::kLogStreamName;
  bool descending = false;
  size_t limit = 50;
  std::optional<std::string> token;
};

struct StreamsPage {
  std::vector<StreamInfo> streams;
  std::optional<std::string> nextToken;
};

Result<StreamsPage> describeLogStreams(const LogStore& store, const StreamsQuery& q);

struct GroupsQuery {
  std::optional<std::string> prefix;
  std::optional<std::string> pattern;  // case-sensitive substring
  size_t limit = 50;
  std::optional<std::string> token;
};

struct GroupsPage {
  std::vector<GroupInfo> groups;
  std::optional<std::string> nextToken;
};

Result<GroupsPage> describeLogGroups(const LogStore& store, const GroupsQuery& q);

}  // namespace lamina::services::logs
