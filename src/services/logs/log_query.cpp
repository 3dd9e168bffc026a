#include "services/logs/log_query.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <iterator>
#include <limits>
#include <tuple>
#include <unordered_set>

#include "core/strings.h"
#include "services/logs/filter_pattern.h"
#include "services/logs/log_format.h"

namespace lamina::services::logs {

namespace {

constexpr int64_t kMinTs = std::numeric_limits<int64_t>::min();
constexpr int64_t kMaxTs = std::numeric_limits<int64_t>::max();
constexpr size_t kEventOverhead = 26;  // AWS counts 26 bytes per event on top of the message

std::unexpected<Error> invalidToken() {
  return fail(Code::kInvalidParameterValue, "The specified nextToken is invalid.");
}

// Timestamps as unsigned with the sign bit flipped: same order, fixed-width decimal.
uint64_t biased(int64_t ts) { return uint64_t(ts) ^ (uint64_t(1) << 63); }
int64_t unbiased(uint64_t v) { return int64_t(v ^ (uint64_t(1) << 63)); }

std::optional<uint64_t> digits20(std::string_view s) {
  if (s.size() != 20) return std::nullopt;
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

// (timestamp, seq) of GetLogEvents positions, as 40 digits.
using Position = std::pair<int64_t, uint64_t>;
constexpr Position kBeforeAll{kMinTs, 0};
constexpr Position kAfterAll{kMaxTs, std::numeric_limits<uint64_t>::max()};

std::string encodePosition(char dir, Position p) {
  return fmt::format("{}/{:020}{:020}", dir, biased(p.first), p.second);
}

std::optional<std::pair<char, Position>> decodePosition(std::string_view token) {
  if (token.size() != 42 || (token[0] != 'f' && token[0] != 'b') || token[1] != '/') return std::nullopt;
  auto ts = digits20(token.substr(2, 20));
  auto seq = digits20(token.substr(22, 20));
  if (!ts || !seq) return std::nullopt;
  return std::pair{token[0], Position{unbiased(*ts), *seq}};
}

Position positionOf(const StoredEvent& e) { return {e.timestamp, e.seq}; }

size_t eventBytes(const StoredEvent& e) { return e.message.size() + kEventOverhead; }

// FilterLogEvents order and positions: (timestamp, stream, seq).
auto filterKey(const FilteredEvent& e) {
  return std::tuple<int64_t, std::string_view, uint64_t>(e.event.timestamp, e.stream, e.event.seq);
}

}  // namespace

Result<GetEventsPage> getLogEvents(LogStore& store, const GetEventsQuery& q) {
  std::optional<std::pair<char, Position>> token;
  if (q.token) {
    token = decodePosition(*q.token);
    if (!token) return invalidToken();
  }
  int64_t from = q.startTime.value_or(kMinTs);
  int64_t to = q.endTime ? (*q.endTime == kMinTs ? kMinTs : *q.endTime - 1) : kMaxTs;
  std::vector<StoredEvent> events;
  if (q.endTime && *q.endTime <= from) {
    if (auto s = store.stream(q.group, q.stream); !s) return std::unexpected(s.error());  // empty window
  } else {
    auto r = store.readEvents(q.group, q.stream, from, to);
    if (!r) return std::unexpected(r.error());
    events = std::move(*r);
  }
  std::stable_sort(events.begin(), events.end(),
                   [](const StoredEvent& a, const StoredEvent& b) { return a.timestamp < b.timestamp; });

  auto posLess = [](const StoredEvent& e, const Position& p) { return positionOf(e) < p; };
  auto lessPos = [](const Position& p, const StoredEvent& e) { return p < positionOf(e); };
  size_t lo = 0, hi = events.size();
  bool forward = q.startFromHead;
  if (token) {
    forward = token->first == 'f';
    if (forward)
      lo = size_t(std::upper_bound(events.begin(), events.end(), token->second, lessPos) - events.begin());
    else
      hi = size_t(std::lower_bound(events.begin(), events.end(), token->second, posLess) - events.begin());
  }
  size_t limit = std::max<size_t>(q.limit, 1);
  size_t first = forward ? lo : hi, last = first, bytes = 0;
  while (last - first < limit && (forward ? last < hi : first > lo)) {
    size_t b = eventBytes(events[forward ? last : first - 1]);
    if (bytes + b > kMaxEventBytes && last > first) break;
    bytes += b;
    forward ? ++last : --first;
  }

  GetEventsPage page;
  page.events.assign(std::make_move_iterator(events.begin() + ptrdiff_t(first)),
                     std::make_move_iterator(events.begin() + ptrdiff_t(last)));
  if (!page.events.empty()) {
    page.forwardToken = encodePosition('f', positionOf(page.events.back()));
    page.backwardToken = encodePosition('b', positionOf(page.events.front()));
  } else if (token && token->first == 'f') {
    page.forwardToken = encodePosition('f', token->second);  // the end: same token again
    page.backwardToken = encodePosition('b', kAfterAll);
  } else if (token) {
    page.forwardToken = encodePosition('f', kBeforeAll);
    page.backwardToken = encodePosition('b', token->second);  // the start: same token again
  } else {
    page.forwardToken = encodePosition('f', kBeforeAll);
    page.backwardToken = encodePosition('b', kAfterAll);
  }
  return page;
}

std::string eventId(std::string_view stream, const StoredEvent& e) {
  return fmt::format("{:020}{:020}{:016}", biased(e.timestamp), fnv1a64(stream), e.seq % 10'000'000'000'000'000ULL);
}

Result<FilterPage> filterLogEvents(LogStore& store, const FilterQuery& q) {
  if (!q.streamNames.empty() && q.streamPrefix)
    return fail(Code::kInvalidParameterValue, "logStreamNames and logStreamNamePrefix are mutually exclusive");
  // The token is the position of the last event returned: 40 digits (timestamp, seq) + hex stream.
  std::optional<std::tuple<int64_t, std::string, uint64_t>> after;
  if (q.token) {
    auto ts = digits20(std::string_view(*q.token).substr(0, 20));
    auto seq = digits20(std::string_view(*q.token).substr(std::min<size_t>(20, q.token->size()), 20));
    auto stream = hexDecode(std::string_view(*q.token).substr(std::min<size_t>(40, q.token->size())));
    if (!ts || !seq || !stream) return invalidToken();
    after.emplace(unbiased(*ts), std::move(*stream), *seq);
  }
  auto all = store.streams(q.group);
  if (!all) return std::unexpected(all.error());
  std::unordered_set<std::string_view> wanted(q.streamNames.begin(), q.streamNames.end());
  int64_t from = q.startTime.value_or(kMinTs), to = q.endTime.value_or(kMaxTs);
  if (after) from = std::max(from, std::get<0>(*after));
  FilterPattern pattern = FilterPattern::parse(q.pattern);
  size_t keep = std::max<size_t>(q.limit, 1) + 1;  // one more than a page tells whether more remain

  FilterPage page;
  std::vector<FilteredEvent> found;
  for (const StreamInfo& s : *all) {
    if (!wanted.empty() && !wanted.contains(s.name)) continue;
    if (q.streamPrefix && !core::startsWith(s.name, *q.streamPrefix)) continue;
    page.searched.push_back({s.name, false});
    if (!s.lastEventTimestamp || *s.lastEventTimestamp < from || *s.firstEventTimestamp > to) continue;
    auto events = store.readEvents(q.group, s.name, from, to);
    if (!events) {
      if (events.error().code() == Code::kResourceNotFound) continue;  // deleted meanwhile
      return std::unexpected(events.error());
    }
    for (StoredEvent& e : *events) {
      FilteredEvent fe{.stream = s.name, .event = std::move(e)};
      if (after && filterKey(fe) <= std::tuple<int64_t, std::string_view, uint64_t>(*after)) continue;
      if (!pattern.matchesEverything() && !pattern.matches(fe.event.message)) continue;
      found.push_back(std::move(fe));
    }
    if (found.size() > 4 * keep) {  // bound memory: only the first `keep` can matter
      std::nth_element(found.begin(), found.begin() + ptrdiff_t(keep), found.end(),
                       [](const FilteredEvent& a, const FilteredEvent& b) { return filterKey(a) < filterKey(b); });
      found.resize(keep);
    }
  }
  std::sort(found.begin(), found.end(),
            [](const FilteredEvent& a, const FilteredEvent& b) { return filterKey(a) < filterKey(b); });

  size_t bytes = 0;
  for (FilteredEvent& fe : found) {
    size_t b = eventBytes(fe.event);
    if (page.events.size() + 1 == keep || (bytes + b > kMaxEventBytes && !page.events.empty())) break;
    bytes += b;
    fe.eventId = eventId(fe.stream, fe.event);
    page.events.push_back(std::move(fe));
  }
  bool more = page.events.size() < found.size();
  if (more) {
    const FilteredEvent& last = page.events.back();
    page.nextToken =
        fmt::format("{:020}{:020}{}", biased(last.event.timestamp), last.event.seq, hexEncode(last.stream));
  }
  for (SearchedStream& s : page.searched) s.complete = !more;
  return page;
}

Result<StreamsPage> describeLogStreams(const LogStore& store, const StreamsQuery& q) {
  bool byTime = q.order == StreamOrder::kLastEventTime;
  if (byTime && q.prefix)
    return fail(Code::kInvalidParameterValue, "Cannot order by LastEventTime with a logStreamNamePrefix.");
  auto all = store.streams(q.group);
  if (!all) return std::unexpected(all.error());
  std::vector<StreamInfo> streams;
  for (StreamInfo& s : *all)
    if (!q.prefix || core::startsWith(s.name, *q.prefix)) streams.push_back(std::move(s));

  auto before = [byTime, desc = q.descending](const StreamInfo& a, const StreamInfo& b) {
    if (byTime) {
      int64_t ta = a.lastEventTimestamp.value_or(kMinTs), tb = b.lastEventTimestamp.value_or(kMinTs);
      if (ta != tb) return desc ? ta > tb : ta < tb;
    }
    return desc ? a.name > b.name : a.name < b.name;
  };
  std::sort(streams.begin(), streams.end(), before);

  // The token is the sort key of the last stream returned: "n/<hex name>" or "t/<20 digits><hex name>".
  size_t start = 0;
  if (q.token) {
    std::string_view t = *q.token;
    StreamInfo key;
    std::optional<std::string> name;
    if (!byTime && core::startsWith(t, "n/")) {
      name = hexDecode(t.substr(2));
    } else if (byTime && core::startsWith(t, "t/") && t.size() >= 22) {
      auto ts = digits20(t.substr(2, 20));
      if (ts && unbiased(*ts) != kMinTs) key.lastEventTimestamp = unbiased(*ts);
      if (ts) name = hexDecode(t.substr(22));
    }
    if (!name) return invalidToken();
    key.name = std::move(*name);
    start = size_t(std::upper_bound(streams.begin(), streams.end(), key, before) - streams.begin());
  }
  StreamsPage page;
  size_t end = std::min(streams.size(), start + std::max<size_t>(q.limit, 1));
  page.streams.assign(std::make_move_iterator(streams.begin() + ptrdiff_t(start)),
                      std::make_move_iterator(streams.begin() + ptrdiff_t(end)));
  if (end < streams.size()) {
    const StreamInfo& last = page.streams.back();
    page.nextToken =
        byTime ? fmt::format("t/{:020}{}", biased(last.lastEventTimestamp.value_or(kMinTs)), hexEncode(last.name))
               : "n/" + hexEncode(last.name);
  }
  return page;
}

Result<GroupsPage> describeLogGroups(const LogStore& store, const GroupsQuery& q) {
  std::optional<std::string> after;
  if (q.token) {
    if (!core::startsWith(*q.token, "g/")) return invalidToken();
    after = hexDecode(std::string_view(*q.token).substr(2));
    if (!after) return invalidToken();
  }
  GroupsPage page;
  size_t limit = std::max<size_t>(q.limit, 1);
  for (GroupInfo& g : store.groups(q.prefix.value_or(""))) {
    if (after && g.name <= *after) continue;
    if (q.pattern && g.name.find(*q.pattern) == std::string::npos) continue;
    if (page.groups.size() == limit) {
      page.nextToken = "g/" + hexEncode(page.groups.back().name);
      break;
    }
    page.groups.push_back(std::move(g));
  }
  return page;
}

}  // namespace lamina::services::logs
