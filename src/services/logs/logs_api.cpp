#include "services/logs/logs_api.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json/array.hpp>
#include <cctype>
#include <span>
#include <utility>

#include "core/ids.h"
#include "core/json.h"
#include "core/strings.h"
#include "services/logs/log_query.h"

namespace lamina::services::logs {

namespace {

namespace json = core::json;

constexpr std::string_view kContentType = "application/x-amz-json-1.1";
constexpr std::string_view kAccount = "000000000000";
constexpr int64_t kMaxPastMs = 14LL * 24 * 3600 * 1000;  // PutLogEvents rejects older events
constexpr int64_t kMaxFutureMs = 2LL * 3600 * 1000;      // ... and newer ones
constexpr int64_t kMaxBatchSpanMs = 24LL * 3600 * 1000;
constexpr size_t kMaxBatchEvents = 10000;
constexpr size_t kMaxBatchBytes = 1048576;

// Every Logs error is a client error (400) except our own failures; types from botocore's model.
std::pair<std::string_view, int> logsError(Code code) {
  switch (code) {
    case Code::kResourceNotFound:
    case Code::kNotFound:
      return {"ResourceNotFoundException", 400};
    case Code::kResourceConflict:
      return {"ResourceAlreadyExistsException", 400};
    case Code::kInvalidParameterValue:
    case Code::kValidation:
    case Code::kRequestTooLarge:
      return {"InvalidParameterException", 400};
    case Code::kInvalidRequestContent:
      return {"SerializationException", 400};
    case Code::kUnknownOperation:
      return {"UnknownOperationException", 400};
    case Code::kTooManyRequests:
      return {"ThrottlingException", 400};
    case Code::kInternal:
    case Code::kServiceUnavailable:
      return {"ServiceUnavailableException", 500};
    default:
      return {awsType(code), httpStatus(code)};
  }
}

http::Response respond(int status, const json::value& body) {
  http::Response r;
  r.status = status;
  r.body = core::serialize(body);
  r.set("content-type", std::string(kContentType));
  r.set("x-amzn-requestid", core::newUuid());
  return r;
}

http::Response errorResponse(const Error& e) {
  auto [type, status] = logsError(e.code());
  http::Response r = respond(status, json::object{{"__type", type}, {"message", e.message()}});
  r.set("x-amzn-errortype", std::string(type));
  return r;
}

std::unexpected<Error> invalid(std::string message) { return fail(Code::kInvalidParameterValue, std::move(message)); }

std::unexpected<Error> constraint(std::string_view field, std::string_view value, std::string_view what) {
  return invalid(fmt::format("1 validation error detected: Value '{}' at '{}' failed to satisfy constraint: {}", value,
                             field, what));
}

// Everything a handler needs; `body` is the parsed request.
struct Call {
  LogStore& store;
  const json::object& body;
  int64_t nowMs;
  std::string region;

  std::string groupArn(std::string_view group) const {
    return fmt::format("arn:aws:logs:{}:{}:log-group:{}", region, kAccount, group);
  }
};

Result<std::string> requireString(const json::object& o, std::string_view key) {
  auto v = core::getString(o, key);
  if (!v) return std::unexpected(v.error());
  if (!*v)
    return invalid(
        fmt::format("1 validation error detected: Value null at '{}' failed to satisfy constraint: "
                    "Member must not be null",
                    key));
  return std::move(**v);
}

// logGroupName, or logGroupIdentifier (a name or a log group ARN) where the operation accepts it.
Result<std::string> groupOf(const json::object& o, bool identifierToo) {
  auto name = core::getString(o, "logGroupName");
  if (!name) return std::unexpected(name.error());
  if (*name || !identifierToo) return requireString(o, "logGroupName");
  auto id = requireString(o, "logGroupIdentifier");
  if (!id) return fail(Code::kInvalidParameterValue, "Either logGroupName or logGroupIdentifier must be specified");
  if (!core::startsWith(*id, "arn:")) return id;
  auto parts = core::split(*id, ':');  // arn:aws:logs:region:account:log-group:NAME[:*]
  if (parts.size() < 7 || parts[5] != "log-group") return invalid("Invalid logGroupIdentifier: " + *id);
  return std::string(parts[6]);
}

Result<std::optional<size_t>> limitOf(const json::object& o, int64_t max) {
  auto v = core::getInt(o, "limit");
  if (!v) return std::unexpected(v.error());
  if (!*v) return std::optional<size_t>();
  if (**v < 1 || **v > max)
    return constraint("limit", std::to_string(**v), fmt::format("Member must have value between 1 and {}", max));
  return std::optional<size_t>(size_t(**v));
}

Result<std::vector<std::string>> stringList(const json::object& o, std::string_view key) {
  std::vector<std::string> out;
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return out;
  if (!it->value().is_array()) return fail(Code::kInvalidRequestContent, fmt::format("'{}' must be a list", key));
  for (const json::value& v : it->value().as_array()) {
    if (!v.is_string()) return fail(Code::kInvalidRequestContent, fmt::format("'{}' must hold strings", key));
    out.emplace_back(v.as_string());
  }
  return out;
}

std::string sequenceToken(uint64_t eventCount) { return fmt::format("{:056}", eventCount + 1); }

// ---- operations ----

Result<json::object> createLogGroup(Call& c) {
  auto group = requireString(c.body, "logGroupName");
  if (!group) return std::unexpected(group.error());
  if (group->empty() || group->size() > 512)
    return constraint("logGroupName", *group, "Member must have length between 1 and 512");
  for (char ch : *group)
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || std::string_view("._-/#").find(ch) != std::string_view::npos))
      return constraint("logGroupName", *group,
                        "Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+");
  if (auto r = c.store.createGroup(*group, c.nowMs); !r) return std::unexpected(r.error());
  return json::object{};
}

Result<json::object> deleteLogGroup(Call& c) {
  auto group = requireString(c.body, "logGroupName");
  if (!group) return std::unexpected(group.error());
  if (auto r = c.store.deleteGroup(*group); !r) return std::unexpected(r.error());
  return json::object{};
}

Result<json::object> describeLogGroups(Call& c) {
  GroupsQuery q;
  auto prefix = core::getString(c.body, "logGroupNamePrefix");
  auto pattern = core::getString(c.body, "logGroupNamePattern");
  auto token = core::getString(c.body, "nextToken");
  auto limit = limitOf(c.body, 50);
  if (!prefix) return std::unexpected(prefix.error());
  if (!pattern) return std::unexpected(pattern.error());
  if (!token) return std::unexpected(token.error());
  if (!limit) return std::unexpected(limit.error());
  if (*prefix && *pattern) return invalid("logGroupNamePrefix and logGroupNamePattern are mutually exclusive");
  q.prefix = std::move(*prefix);
  q.pattern = std::move(*pattern);
  q.token = std::move(*token);
  q.limit = limit->value_or(50);
  auto page = describeLogGroups(c.store, q);
  if (!page) return std::unexpected(page.error());
  json::array groups;
  for (const GroupInfo& g : page->groups) {
    std::string arn = c.groupArn(g.name);
    groups.push_back(json::object{{"logGroupName", g.name},
                                  {"creationTime", g.creationTime},
                                  {"metricFilterCount", 0},
                                  {"arn", arn + ":*"},
                                  {"logGroupArn", arn},
                                  {"storedBytes", g.storedBytes},
                                  {"logGroupClass", "STANDARD"}});
  }
  json::object out{{"logGroups", std::move(groups)}};
  if (page->nextToken) out["nextToken"] = *page->nextToken;
  return out;
}

Result<json::object> createLogStream(Call& c) {
  auto group = requireString(c.body, "logGroupName");
  if (!group) return std::unexpected(group.error());
  auto stream = requireString(c.body, "logStreamName");
  if (!stream) return std::unexpected(stream.error());
  if (stream->empty() || stream->size() > 512)
    return constraint("logStreamName", *stream, "Member must have length between 1 and 512");
  if (stream->find_first_of(":*") != std::string::npos)
    return constraint("logStreamName", *stream, "Member must satisfy regular expression pattern: [^:*]*");
  if (auto r = c.store.createStream(*group, *stream, c.nowMs); !r) return std::unexpected(r.error());
  return json::object{};
}

Result<json::object> describeLogStreams(Call& c) {
  StreamsQuery q;
  auto group = groupOf(c.body, true);
  if (!group) return std::unexpected(group.error());
  auto prefix = core::getString(c.body, "logStreamNamePrefix");
  auto orderBy = core::getString(c.body, "orderBy");
  auto descending = core::getBool(c.body, "descending");
  auto token = core::getString(c.body, "nextToken");
  auto limit = limitOf(c.body, 50);
  if (!prefix) return std::unexpected(prefix.error());
  if (!orderBy) return std::unexpected(orderBy.error());
  if (!descending) return std::unexpected(descending.error());
  if (!token) return std::unexpected(token.error());
  if (!limit) return std::unexpected(limit.error());
  if (*orderBy && **orderBy != "LogStreamName" && **orderBy != "LastEventTime")
    return constraint("orderBy", **orderBy, "Member must satisfy enum value set: [LogStreamName, LastEventTime]");
  q.group = std::move(*group);
  q.prefix = std::move(*prefix);
  q.order = *orderBy == "LastEventTime" ? StreamOrder::kLastEventTime : StreamOrder::kLogStreamName;
  q.descending = descending->value_or(false);
  q.token = std::move(*token);
  q.limit = limit->value_or(50);
  auto page = describeLogStreams(c.store, q);
  if (!page) return std::unexpected(page.error());
  json::array streams;
  for (const StreamInfo& s : page->streams) {
    json::object o{{"logStreamName", s.name},
                   {"creationTime", s.creationTime},
                   {"arn", fmt::format("{}:log-stream:{}", c.groupArn(q.group), s.name)},
                   {"storedBytes", s.storedBytes},
                   {"uploadSequenceToken", sequenceToken(s.eventCount)}};
    if (s.firstEventTimestamp) o["firstEventTimestamp"] = *s.firstEventTimestamp;
    if (s.lastEventTimestamp) o["lastEventTimestamp"] = *s.lastEventTimestamp;
    if (s.lastIngestionTime) o["lastIngestionTime"] = *s.lastIngestionTime;
    streams.push_back(std::move(o));
  }
  json::object out{{"logStreams", std::move(streams)}};
  if (page->nextToken) out["nextToken"] = *page->nextToken;
  return out;
}

Result<json::object> putLogEvents(Call& c) {
  auto group = requireString(c.body, "logGroupName");
  if (!group) return std::unexpected(group.error());
  auto stream = requireString(c.body, "logStreamName");
  if (!stream) return std::unexpected(stream.error());
  auto it = c.body.find("logEvents");
  if (it == c.body.end() || !it->value().is_array())
    return invalid(
        "1 validation error detected: Value null at 'logEvents' failed to satisfy constraint: "
        "Member must not be null");
  const json::array& raw = it->value().as_array();
  if (raw.empty() || raw.size() > kMaxBatchEvents)
    return constraint("logEvents", std::to_string(raw.size()) + " events",
                      "Member must have length between 1 and 10000");
  std::vector<NewEvent> events;
  events.reserve(raw.size());
  size_t bytes = 0;
  for (const json::value& v : raw) {
    if (!v.is_object()) return fail(Code::kInvalidRequestContent, "logEvents must hold objects");
    auto ts = core::getInt(v.as_object(), "timestamp");
    if (!ts) return std::unexpected(ts.error());
    auto msg = v.as_object().find("message");
    if (!*ts || msg == v.as_object().end() || !msg->value().is_string())
      return invalid("Each log event needs a timestamp and a message");
    std::string_view m = msg->value().as_string();
    if (m.empty())
      return constraint("logEvents.member.message", "", "Member must have length greater than or equal to 1");
    if (!events.empty() && **ts < events.back().timestamp)
      return invalid("Log events in a single PutLogEvents request must be in chronological order.");
    bytes += m.size() + 26;
    events.push_back(NewEvent{**ts, m});
  }
  if (events.back().timestamp - events.front().timestamp > kMaxBatchSpanMs)
    return invalid("The batch of log events in a single PutLogEvents request cannot span more than 24 hours.");
  if (bytes > kMaxBatchBytes)
    return invalid(fmt::format("Upload too large: {} bytes exceeds limit of {}", bytes, kMaxBatchBytes));

  // Sorted, so the too-old events are a prefix and the too-new ones a suffix.
  size_t oldEnd = 0, newStart = events.size();
  while (oldEnd < events.size() && events[oldEnd].timestamp < c.nowMs - kMaxPastMs) ++oldEnd;
  while (newStart > oldEnd && events[newStart - 1].timestamp > c.nowMs + kMaxFutureMs) --newStart;
  std::span<const NewEvent> accepted(events.data() + oldEnd, newStart - oldEnd);
  if (auto r = c.store.putEvents(*group, *stream, accepted, c.nowMs); !r) return std::unexpected(r.error());
  auto info = c.store.stream(*group, *stream);
  json::object out{{"nextSequenceToken", sequenceToken(info ? info->eventCount : 0)}};
  if (oldEnd > 0 || newStart < events.size()) {
    json::object rejected;
    if (oldEnd > 0) rejected["tooOldLogEventEndIndex"] = oldEnd;                    // exclusive
    if (newStart < events.size()) rejected["tooNewLogEventStartIndex"] = newStart;  // inclusive
    out["rejectedLogEventsInfo"] = std::move(rejected);
  }
  return out;
}

Result<json::object> getLogEvents(Call& c) {
  GetEventsQuery q;
  auto group = groupOf(c.body, true);
  if (!group) return std::unexpected(group.error());
  auto stream = requireString(c.body, "logStreamName");
  if (!stream) return std::unexpected(stream.error());
  auto start = core::getInt(c.body, "startTime");
  auto end = core::getInt(c.body, "endTime");
  auto head = core::getBool(c.body, "startFromHead");
  auto token = core::getString(c.body, "nextToken");
  auto limit = limitOf(c.body, 10000);
  if (!start) return std::unexpected(start.error());
  if (!end) return std::unexpected(end.error());
  if (!head) return std::unexpected(head.error());
  if (!token) return std::unexpected(token.error());
  if (!limit) return std::unexpected(limit.error());
  q = GetEventsQuery{.group = std::move(*group),
                     .stream = std::move(*stream),
                     .startTime = *start,
                     .endTime = *end,
                     .startFromHead = head->value_or(false),
                     .limit = limit->value_or(10000),
                     .token = std::move(*token)};
  auto page = getLogEvents(c.store, q);
  if (!page) return std::unexpected(page.error());
  json::array events;
  for (const StoredEvent& e : page->events)
    events.push_back(
        json::object{{"timestamp", e.timestamp}, {"message", e.message}, {"ingestionTime", e.ingestionTime}});
  return json::object{{"events", std::move(events)},
                      {"nextForwardToken", page->forwardToken},
                      {"nextBackwardToken", page->backwardToken}};
}

Result<json::object> filterLogEvents(Call& c) {
  FilterQuery q;
  auto group = groupOf(c.body, true);
  if (!group) return std::unexpected(group.error());
  auto names = stringList(c.body, "logStreamNames");
  auto prefix = core::getString(c.body, "logStreamNamePrefix");
  auto start = core::getInt(c.body, "startTime");
  auto end = core::getInt(c.body, "endTime");
  auto pattern = core::getString(c.body, "filterPattern");
  auto token = core::getString(c.body, "nextToken");
  auto limit = limitOf(c.body, 10000);
  if (auto interleaved = core::getBool(c.body, "interleaved"); !interleaved)  // deprecated; always interleaved
    return std::unexpected(interleaved.error());
  if (!names) return std::unexpected(names.error());
  if (!prefix) return std::unexpected(prefix.error());
  if (!start) return std::unexpected(start.error());
  if (!end) return std::unexpected(end.error());
  if (!pattern) return std::unexpected(pattern.error());
  if (!token) return std::unexpected(token.error());
  if (!limit) return std::unexpected(limit.error());
  q = FilterQuery{.group = std::move(*group),
                  .streamNames = std::move(*names),
                  .streamPrefix = std::move(*prefix),
                  .startTime = *start,
                  .endTime = *end,
                  .pattern = pattern->value_or(""),
                  .limit = limit->value_or(10000),
                  .token = std::move(*token)};
  auto page = filterLogEvents(c.store, q);
  if (!page) return std::unexpected(page.error());
  json::array events, searched;
  for (const FilteredEvent& e : page->events)
    events.push_back(json::object{{"logStreamName", e.stream},
                                  {"timestamp", e.event.timestamp},
                                  {"message", e.event.message},
                                  {"ingestionTime", e.event.ingestionTime},
                                  {"eventId", e.eventId}});
  for (const SearchedStream& s : page->searched)
    searched.push_back(json::object{{"logStreamName", s.name}, {"searchedCompletely", s.complete}});
  json::object out{{"events", std::move(events)}, {"searchedLogStreams", std::move(searched)}};
  if (page->nextToken) out["nextToken"] = *page->nextToken;
  return out;
}

using Operation = Result<json::object> (*)(Call&);
constexpr std::pair<std::string_view, Operation> kOperations[] = {
    {"CreateLogGroup", createLogGroup},
    {"DeleteLogGroup", deleteLogGroup},
    {"DescribeLogGroups", describeLogGroups},
    {"CreateLogStream", createLogStream},
    {"DescribeLogStreams", describeLogStreams},
    {"PutLogEvents", putLogEvents},
    {"GetLogEvents", getLogEvents},
    {"FilterLogEvents", filterLogEvents},
};

}  // namespace

std::string regionOf(const http::Request& req) {
  std::string_view auth = req.header("authorization");
  size_t at = auth.find("Credential=");
  if (at == std::string_view::npos) return "us-east-1";
  std::string_view cred = auth.substr(at + 11);
  cred = cred.substr(0, cred.find_first_of(", "));
  auto parts = core::split(cred, '/');  // AKID/date/region/service/aws4_request
  if (parts.size() != 5 || parts[2].empty()) return "us-east-1";
  return std::string(parts[2]);
}

http::Response handleLogsRequest(LogStore& store, const http::Request& req, std::string_view operation, int64_t nowMs) {
  if (req.bodyTooLarge) return errorResponse(Error(Code::kRequestTooLarge, "Request body too large"));
  auto op = std::find_if(std::begin(kOperations), std::end(kOperations),
                         [operation](const auto& entry) { return entry.first == operation; });
  if (op == std::end(kOperations))
    return errorResponse(Error(Code::kUnknownOperation, fmt::format("Unknown operation {}", operation)));
  auto body = core::parseJsonObject(core::trim(req.body).empty() ? std::string_view("{}") : std::string_view(req.body));
  if (!body) return errorResponse(body.error());
  Call call{store, *body, nowMs, regionOf(req)};
  auto result = op->second(call);
  if (!result) return errorResponse(result.error());
  return respond(200, *result);
}

}  // namespace lamina::services::logs
