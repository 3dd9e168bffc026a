#include "services/logs/log_store.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "services/logs/log_format.h"
#include "test_support.h"

namespace lamina::services::logs {
namespace {

using testing::FakeClock;
using testing::TempDir;

constexpr int64_t kNow = 1'700'000'000'000;
const std::string kGroup = "/aws/lambda/my-fn";
const std::string kStream = "2024/05/01/[$LATEST]0123abcd";

std::unique_ptr<LogStore> openStore(const TempDir& dir, const core::Clock& clock) {
  auto store = LogStore::open(dir.path(), clock);
  EXPECT_TRUE(store.has_value()) << (store ? "" : store.error().message());
  return store ? std::move(*store) : nullptr;
}

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<StoredEvent> readAll(LogStore& store, const std::string& group, const std::string& stream) {
  auto events = store.readEvents(group, stream, INT64_MIN, INT64_MAX);
  EXPECT_TRUE(events.has_value());
  return events ? std::move(*events) : std::vector<StoredEvent>{};
}

TEST(LogStore, AppendFlushReadBack) {
  TempDir dir;
  FakeClock clock(kNow);
  auto store = openStore(dir, clock);
  store->append(kGroup, kStream, kNow - 30, "START RequestId: 1");
  clock.set(kNow + 5);
  store->append(kGroup, kStream, kNow - 20, "hello");
  store->append(kGroup, kStream, kNow - 10, "END RequestId: 1");
  store->flush();

  auto events = readAll(*store, kGroup, kStream);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].message, "START RequestId: 1");
  EXPECT_EQ(events[0].timestamp, kNow - 30);
  EXPECT_EQ(events[0].ingestionTime, kNow);
  EXPECT_EQ(events[1].ingestionTime, kNow + 5);
  EXPECT_EQ(events[2].seq, 3u);

  // The documented layout: <root>/<encoded group>/<encoded stream>.log, one line per event.
  auto file = dir.path() / encodeName(kGroup) / (encodeName(kStream) + ".log");
  EXPECT_EQ(encodeName(kGroup), "%2Faws%2Flambda%2Fmy-fn");
  EXPECT_EQ(slurp(file), fmt::format("{} {} START RequestId: 1\n{} {} hello\n{} {} END RequestId: 1\n", kNow - 30, kNow,
                                     kNow - 20, kNow + 5, kNow - 10, kNow + 5));

  auto info = store->stream(kGroup, kStream);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->firstEventTimestamp, kNow - 30);
  EXPECT_EQ(info->lastEventTimestamp, kNow - 10);
  EXPECT_EQ(info->lastIngestionTime, kNow + 5);
  EXPECT_EQ(info->eventCount, 3u);
  EXPECT_EQ(info->storedBytes, int64_t(std::filesystem::file_size(file)));
}

TEST(LogStore, ReadsFilterByTimeInclusive) {
  TempDir dir;
  FakeClock clock(kNow);
  auto store = openStore(dir, clock);
  for (int i = 0; i < 5; ++i) store->append("g", "s", 100 + i, std::to_string(i));
  auto events = store->readEvents("g", "s", 101, 103);
  ASSERT_TRUE(events.has_value());
  ASSERT_EQ(events->size(), 3u);
  EXPECT_EQ(events->front().message, "1");
  EXPECT_EQ(events->front().seq, 2u);
  EXPECT_EQ(events->back().message, "3");
}

TEST(LogStore, ReopenFindsGroupsStreamsAndEvents) {
  TempDir dir;
  FakeClock clock(kNow);
  {
    auto store = openStore(dir, clock);
    ASSERT_TRUE(store->createGroup("explicit", kNow - 1000).has_value());
    ASSERT_TRUE(store->createStream("explicit", "empty-stream", kNow - 900).has_value());
    store->append(kGroup, kStream, kNow - 50, "one");
    store->append(kGroup, kStream, kNow - 70, "older but later");
    store->append(kGroup, "other", kNow - 10, "two");
    // No flush: the destructor writes what is queued.
  }
  clock.set(kNow + 60'000);
  auto store = openStore(dir, clock);
  auto groups = store->groups();
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].name, kGroup);
  EXPECT_EQ(groups[0].creationTime, kNow);
  EXPECT_EQ(groups[1].name, "explicit");
  EXPECT_EQ(groups[1].creationTime, kNow - 1000);

  auto streams = store->streams(kGroup);
  ASSERT_TRUE(streams.has_value());
  ASSERT_EQ(streams->size(), 2u);
  const StreamInfo& s = (*streams)[0];
  EXPECT_EQ(s.name, kStream);
  EXPECT_EQ(s.creationTime, kNow);
  EXPECT_EQ(s.firstEventTimestamp, kNow - 70);
  EXPECT_EQ(s.lastEventTimestamp, kNow - 50);
  EXPECT_EQ(s.lastIngestionTime, kNow);
  EXPECT_EQ(s.eventCount, 2u);
  EXPECT_EQ(groups[0].storedBytes, s.storedBytes + (*streams)[1].storedBytes);

  auto empty = store->stream("explicit", "empty-stream");
  ASSERT_TRUE(empty.has_value());
  EXPECT_EQ(empty->creationTime, kNow - 900);
  EXPECT_FALSE(empty->lastEventTimestamp.has_value());
  EXPECT_TRUE(readAll(*store, "explicit", "empty-stream").empty());

  auto events = readAll(*store, kGroup, kStream);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].message, "older but later");

  // Appending after a restart continues the same files and seqs.
  store->append(kGroup, kStream, kNow + 1, "three");
  events = readAll(*store, kGroup, kStream);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[2].seq, 3u);
  EXPECT_EQ(events[2].ingestionTime, kNow + 60'000);
}

TEST(LogStore, MessagesWithNewlinesAndBackslashesRoundTrip) {
  const std::vector<std::string> messages = {"line one\nline two",
                                             "C:\\path\\to\\file",
                                             "literal \\n is not a newline",
                                             "ends with backslash\\",
                                             "\\\\n",
                                             "tab\tand\r\ncrlf",
                                             "\n",
                                             std::string("nul\0byte", 8),
                                             "unicode: \xc3\xa9\xe2\x82\xac"};
  TempDir dir;
  FakeClock clock(kNow);
  {
    auto store = openStore(dir, clock);
    for (const auto& m : messages) store->append("g", "s", kNow, m);
    store->flush();
    auto events = readAll(*store, "g", "s");
    ASSERT_EQ(events.size(), messages.size());
    for (size_t i = 0; i < messages.size(); ++i) EXPECT_EQ(events[i].message, messages[i]);
  }
  auto store = openStore(dir, clock);
  auto events = readAll(*store, "g", "s");
  ASSERT_EQ(events.size(), messages.size());
  for (size_t i = 0; i < messages.size(); ++i) EXPECT_EQ(events[i].message, messages[i]);
}

TEST(LogStore, CreateErrors) {
  TempDir dir;
  FakeClock clock(kNow);
  auto store = openStore(dir, clock);
  ASSERT_TRUE(store->createGroup("g", kNow).has_value());
  auto dup = store->createGroup("g", kNow);
  ASSERT_FALSE(dup.has_value());
  EXPECT_EQ(dup.error().code(), Code::kResourceConflict);
  auto noGroup = store->createStream("missing", "s", kNow);
  ASSERT_FALSE(noGroup.has_value());
  EXPECT_EQ(noGroup.error().code(), Code::kResourceNotFound);
  ASSERT_TRUE(store->createStream("g", "s", kNow).has_value());
  EXPECT_EQ(store->createStream("g", "s", kNow).error().code(), Code::kResourceConflict);
  EXPECT_EQ(store->readEvents("g", "nope", 0, 1).error().code(), Code::kResourceNotFound);
  NewEvent e{kNow, "x"};
  EXPECT_EQ(store->putEvents("g", "nope", {&e, 1}, kNow).error().code(), Code::kResourceNotFound);
  EXPECT_EQ(store->deleteGroup("missing").error().code(), Code::kResourceNotFound);
}

TEST(LogStore, DeleteGroupRemovesFilesAndQueuedEvents) {
  TempDir dir;
  FakeClock clock(kNow);
  auto store = openStore(dir, clock);
  store->append(kGroup, "a", kNow, "written");
  store->flush();
  store->append(kGroup, "a", kNow, "still queued");
  ASSERT_TRUE(store->deleteGroup(kGroup).has_value());
  store->flush();
  EXPECT_FALSE(std::filesystem::exists(dir.path() / encodeName(kGroup)));
  EXPECT_FALSE(store->group(kGroup).has_value());

  // Recreated implicitly, it starts empty.
  store->append(kGroup, "a", kNow + 1, "new life");
  auto events = readAll(*store, kGroup, "a");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].message, "new life");
  EXPECT_EQ(events[0].seq, 1u);
}

TEST(LogStore, LongNamesSurviveReopen) {
  std::string group = "/aws/lambda/" + std::string(480, 'x') + ".y";
  std::string stream = std::string(300, '/') + "[$LATEST]";
  TempDir dir;
  FakeClock clock(kNow);
  {
    auto store = openStore(dir, clock);
    store->append(group, stream, kNow, "long");
    store->append(group, stream + "2", kNow, "long too");
  }
  for (const auto& e : std::filesystem::directory_iterator(dir.path()))
    EXPECT_LE(e.path().filename().string().size(), 255u);
  auto store = openStore(dir, clock);
  ASSERT_TRUE(store->group(group).has_value());
  auto events = readAll(*store, group, stream);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].message, "long");
  EXPECT_EQ(readAll(*store, group, stream + "2").size(), 1u);
}

TEST(LogStore, ReopenDropsATornLastLine) {
  TempDir dir;
  FakeClock clock(kNow);
  {
    auto store = openStore(dir, clock);
    store->append("g", "s", kNow, "complete");
  }
  auto file = dir.path() / "g" / "s.log";
  {
    std::ofstream out(file, std::ios::app | std::ios::binary);
    out << kNow << " " << kNow << " torn wri";  // a crash mid-write: no newline
  }
  auto store = openStore(dir, clock);
  store->append("g", "s", kNow + 1, "after restart");
  auto events = readAll(*store, "g", "s");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].message, "complete");
  EXPECT_EQ(events[1].message, "after restart");
  EXPECT_EQ(events[1].seq, 2u);
}

TEST(LogStore, ConcurrentAppendsAreAllWritten) {
  TempDir dir;
  FakeClock clock(kNow);
  auto store = openStore(dir, clock);
  constexpr int kThreads = 4, kEach = 2000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&store, t] {
      for (int i = 0; i < kEach; ++i)
        store->append("g", fmt::format("s{}", t % 2), kNow + i, fmt::format("{}-{}", t, i));
    });
  // Reads race with the writer and the appenders; they must only ever see whole events.
  for (int i = 0; i < 20; ++i) {
    auto partial = store->readEvents("g", "s0", INT64_MIN, INT64_MAX);
    if (partial) {
      for (const auto& e : *partial) ASSERT_NE(e.message.find('-'), std::string::npos);
    }
  }
  for (auto& th : threads) th.join();
  store->flush();
  std::set<std::string> seen;
  for (const char* s : {"s0", "s1"}) {
    auto events = readAll(*store, "g", s);
    EXPECT_EQ(events.size(), size_t(kEach * kThreads / 2));
    for (size_t i = 0; i < events.size(); ++i) EXPECT_EQ(events[i].seq, i + 1);
    for (auto& e : events) seen.insert(e.message);
  }
  EXPECT_EQ(seen.size(), size_t(kThreads * kEach));
  EXPECT_EQ(store->droppedEvents(), 0u);
  EXPECT_EQ(store->lastWriteError(), "");
}

TEST(LogStore, EmptyNamesAreIgnored) {
  TempDir dir;
  FakeClock clock(kNow);
  auto store = openStore(dir, clock);
  store->append("", "s", kNow, "x");
  store->append("g", "", kNow, "x");
  EXPECT_TRUE(store->groups().empty());
}

}  // namespace
}  // namespace lamina::services::logs
