#include "services/logs/logs_api.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <set>

#include "core/json.h"
#include "test_support.h"

namespace lamina::services::logs {
namespace {

namespace json = boost::json;
using testing::FakeClock;
using testing::TempDir;

constexpr int64_t kNow = 1'700'000'000'000;
const std::string kGroup = "/aws/lambda/fn";

class LogsApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = LogStore::open(dir_.path(), clock_);
    ASSERT_TRUE(s.has_value());
    store_ = std::move(*s);
  }

  http::Response raw(std::string_view op, std::string body, int64_t now = kNow) {
    http::Request req{.method = "POST", .target = "/", .body = std::move(body)};
    req.headers = {{"x-amz-target", "Logs_20140328." + std::string(op)},
                   {"content-type", "application/x-amz-json-1.1"},
                   {"authorization",
                    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240501/eu-west-3/logs/aws4_request, "
                    "SignedHeaders=host;x-amz-date, Signature=abc"}};
    return handleLogsRequest(*store_, req, op, now);
  }

  // Calls `op` expecting success; returns the parsed body.
  json::object ok(std::string_view op, const json::object& body, int64_t now = kNow) {
    http::Response r = raw(op, json::serialize(body), now);
    EXPECT_EQ(r.status, 200) << op << ": " << r.body;
    EXPECT_EQ(header(r, "content-type"), "application/x-amz-json-1.1");
    EXPECT_FALSE(header(r, "x-amzn-requestid").empty());
    auto parsed = core::parseJsonObject(r.body);
    EXPECT_TRUE(parsed.has_value()) << r.body;
    return parsed ? std::move(*parsed) : json::object{};
  }

  // Calls `op` expecting an error of `type`; returns its message.
  std::string err(std::string_view op, const json::object& body, std::string_view type, int status = 400) {
    http::Response r = raw(op, json::serialize(body));
    EXPECT_EQ(r.status, status) << op << ": " << r.body;
    EXPECT_EQ(header(r, "x-amzn-errortype"), type);
    auto parsed = core::parseJsonObject(r.body);
    if (!parsed) {
      ADD_FAILURE() << r.body;
      return "";
    }
    EXPECT_EQ(json::value_to<std::string>((*parsed)["__type"]), type);
    return json::value_to<std::string>((*parsed)["message"]);
  }

  static std::string header(const http::Response& r, std::string_view name) {
    for (const auto& [k, v] : r.headers)
      if (k == name) return v;
    return "";
  }

  void put(const std::string& stream, const std::vector<std::pair<int64_t, std::string>>& events) {
    json::array arr;
    for (const auto& [ts, msg] : events) arr.push_back(json::object{{"timestamp", ts}, {"message", msg}});
    ok("PutLogEvents", {{"logGroupName", kGroup}, {"logStreamName", stream}, {"logEvents", std::move(arr)}});
  }

  void makeStream(const std::string& stream) {
    if (!store_->group(kGroup)) ok("CreateLogGroup", {{"logGroupName", kGroup}});
    ok("CreateLogStream", {{"logGroupName", kGroup}, {"logStreamName", stream}});
  }

  static std::vector<std::string> messages(const json::object& page) {
    std::vector<std::string> out;
    for (const auto& e : page.at("events").as_array()) out.push_back(json::value_to<std::string>(e.at("message")));
    return out;
  }

  TempDir dir_;
  FakeClock clock_{kNow};
  std::unique_ptr<LogStore> store_;
};

TEST_F(LogsApiTest, CreateAndDescribeGroups) {
  ok("CreateLogGroup", {{"logGroupName", kGroup}}, kNow - 5);
  ok("CreateLogGroup", {{"logGroupName", "/aws/lambda/other"}});
  ok("CreateLogGroup", {{"logGroupName", "app"}});
  EXPECT_EQ(err("CreateLogGroup", {{"logGroupName", kGroup}}, "ResourceAlreadyExistsException"),
            "The specified log group already exists");
  err("CreateLogGroup", {{"logGroupName", "bad name"}}, "InvalidParameterException");

  auto all = ok("DescribeLogGroups", {{"logGroupNamePrefix", "/aws/lambda/"}});
  const auto& groups = all.at("logGroups").as_array();
  ASSERT_EQ(groups.size(), 2u);
  const auto& g = groups[0].as_object();
  EXPECT_EQ(json::value_to<std::string>(g.at("logGroupName")), kGroup);
  EXPECT_EQ(g.at("creationTime"), kNow - 5);
  EXPECT_EQ(g.at("arn"), "arn:aws:logs:eu-west-3:000000000000:log-group:/aws/lambda/fn:*");
  EXPECT_EQ(g.at("storedBytes"), 0);
  EXPECT_EQ(g.at("metricFilterCount"), 0);
  EXPECT_FALSE(all.contains("nextToken"));

  // Paging one at a time visits every group once.
  std::vector<std::string> names;
  json::object req{{"limit", 1}};
  while (true) {
    auto page = ok("DescribeLogGroups", req);
    for (const auto& x : page.at("logGroups").as_array())
      names.push_back(json::value_to<std::string>(x.at("logGroupName")));
    if (!page.contains("nextToken")) break;
    req["nextToken"] = page.at("nextToken");
  }
  EXPECT_EQ(names, (std::vector<std::string>{"/aws/lambda/fn", "/aws/lambda/other", "app"}));

  ok("DeleteLogGroup", {{"logGroupName", "app"}});
  EXPECT_EQ(ok("DescribeLogGroups", {}).at("logGroups").as_array().size(), 2u);
}

TEST_F(LogsApiTest, MissingGroupIsResourceNotFound) {
  const std::string msg = "The specified log group does not exist.";
  EXPECT_EQ(err("DeleteLogGroup", {{"logGroupName", "nope"}}, "ResourceNotFoundException"), msg);
  EXPECT_EQ(err("CreateLogStream", {{"logGroupName", "nope"}, {"logStreamName", "s"}}, "ResourceNotFoundException"),
            msg);
  EXPECT_EQ(err("DescribeLogStreams", {{"logGroupName", "nope"}}, "ResourceNotFoundException"), msg);
  EXPECT_EQ(err("GetLogEvents", {{"logGroupName", "nope"}, {"logStreamName", "s"}}, "ResourceNotFoundException"), msg);
  EXPECT_EQ(err("FilterLogEvents", {{"logGroupName", "nope"}}, "ResourceNotFoundException"), msg);
  json::array events{json::object{{"timestamp", kNow}, {"message", "m"}}};
  EXPECT_EQ(err("PutLogEvents", {{"logGroupName", "nope"}, {"logStreamName", "s"}, {"logEvents", events}},
                "ResourceNotFoundException"),
            msg);
  ok("CreateLogGroup", {{"logGroupName", kGroup}});
  EXPECT_EQ(err("GetLogEvents", {{"logGroupName", kGroup}, {"logStreamName", "s"}}, "ResourceNotFoundException"),
            "The specified log stream does not exist.");
}

TEST_F(LogsApiTest, ProtocolErrors) {
  http::Response unknown = raw("ListEverything", "{}");
  EXPECT_EQ(unknown.status, 400);
  EXPECT_EQ(header(unknown, "x-amzn-errortype"), "UnknownOperationException");
  EXPECT_NE(unknown.body.find("\"__type\":\"UnknownOperationException\""), std::string::npos);
  EXPECT_FALSE(header(unknown, "x-amzn-requestid").empty());

  http::Response bad = raw("DescribeLogGroups", "{not json");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(header(bad, "x-amzn-errortype"), "SerializationException");

  err("DescribeLogGroups", {{"limit", 0}}, "InvalidParameterException");
  err("DescribeLogGroups", {{"limit", "ten"}}, "SerializationException");
  err("DescribeLogGroups", {{"nextToken", "garbage"}}, "InvalidParameterException");
  err("CreateLogGroup", {}, "InvalidParameterException");
  EXPECT_EQ(raw("DescribeLogGroups", "").status, 200);  // an empty body is an empty request
}

TEST_F(LogsApiTest, RegionComesFromTheCredentialScope) {
  http::Request req;
  EXPECT_EQ(regionOf(req), "us-east-1");
  req.headers = {
      {"authorization", "AWS4-HMAC-SHA256 Credential=AK/20240101/ap-south-1/logs/aws4_request,SignedHeaders=host"}};
  EXPECT_EQ(regionOf(req), "ap-south-1");
  req.headers = {{"authorization", "AWS4-HMAC-SHA256 Credential=broken"}};
  EXPECT_EQ(regionOf(req), "us-east-1");
}

TEST_F(LogsApiTest, PutLogEventsValidatesAndRejectsOutOfRangeEvents) {
  makeStream("s");
  json::array unsorted{json::object{{"timestamp", kNow}, {"message", "b"}},
                       json::object{{"timestamp", kNow - 1}, {"message", "a"}}};
  err("PutLogEvents", {{"logGroupName", kGroup}, {"logStreamName", "s"}, {"logEvents", unsorted}},
      "InvalidParameterException");
  err("PutLogEvents", {{"logGroupName", kGroup}, {"logStreamName", "s"}, {"logEvents", json::array{}}},
      "InvalidParameterException");

  const int64_t day = 24LL * 3600 * 1000;
  json::array mixed{json::object{{"timestamp", kNow - 15 * day}, {"message", "too old"}},
                    json::object{{"timestamp", kNow - 10}, {"message", "fine"}},
                    json::object{{"timestamp", kNow + 3 * 3600 * 1000}, {"message", "too new"}}};
  err("PutLogEvents", {{"logGroupName", kGroup}, {"logStreamName", "s"}, {"logEvents", mixed}},
      "InvalidParameterException");  // spans more than 24 hours
  json::array tooOld{json::object{{"timestamp", kNow - 15 * day}, {"message", "too old"}},
                     json::object{{"timestamp", kNow - 15 * day + 1}, {"message", "too old 2"}},
                     json::object{{"timestamp", kNow - 15 * day + 2}, {"message", "too old 3"}}};
  auto r = ok("PutLogEvents", {{"logGroupName", kGroup}, {"logStreamName", "s"}, {"logEvents", tooOld}});
  EXPECT_EQ(r.at("rejectedLogEventsInfo").at("tooOldLogEventEndIndex"), 3);
  json::array someNew{json::object{{"timestamp", kNow - 10}, {"message", "fine"}},
                      json::object{{"timestamp", kNow + 3 * 3600 * 1000}, {"message", "too new"}}};
  r = ok("PutLogEvents", {{"logGroupName", kGroup}, {"logStreamName", "s"}, {"logEvents", someNew}});
  EXPECT_EQ(r.at("rejectedLogEventsInfo").at("tooNewLogEventStartIndex"), 1);
  EXPECT_TRUE(r.contains("nextSequenceToken"));
  auto got = ok("GetLogEvents", {{"logGroupName", kGroup}, {"logStreamName", "s"}});
  EXPECT_EQ(messages(got), std::vector<std::string>{"fine"});
}

TEST_F(LogsApiTest, GetLogEventsTailHeadAndTokens) {
  makeStream("s");
  std::vector<std::pair<int64_t, std::string>> batch;
  for (int i = 0; i < 10; ++i) batch.emplace_back(kNow - 100 + i, fmt::format("m{}", i));
  put("s", batch);
  json::object base{{"logGroupName", kGroup}, {"logStreamName", "s"}};

  // Without startFromHead AWS returns the newest events.
  json::object req = base;
  req["limit"] = 3;
  auto tail = ok("GetLogEvents", req);
  EXPECT_EQ(messages(tail), (std::vector<std::string>{"m7", "m8", "m9"}));
  const auto& ev = tail.at("events").as_array()[0].as_object();
  EXPECT_EQ(ev.at("timestamp"), kNow - 93);
  EXPECT_EQ(ev.at("ingestionTime"), kNow);
  EXPECT_TRUE(json::value_to<std::string>(tail.at("nextForwardToken")).starts_with("f/"));
  EXPECT_TRUE(json::value_to<std::string>(tail.at("nextBackwardToken")).starts_with("b/"));

  // Walking backwards from the tail reaches the head, then the backward token repeats.
  std::vector<std::string> backwards;
  json::value token = tail.at("nextBackwardToken");
  for (int guard = 0; guard < 10; ++guard) {
    json::object r = req;
    r["nextToken"] = token;
    auto page = ok("GetLogEvents", r);
    auto msgs = messages(page);
    backwards.insert(backwards.begin(), msgs.begin(), msgs.end());
    if (page.at("nextBackwardToken") == token) break;
    token = page.at("nextBackwardToken");
  }
  EXPECT_EQ(backwards, (std::vector<std::string>{"m0", "m1", "m2", "m3", "m4", "m5", "m6"}));

  // From the head, forwards in pages of 4, until the forward token stops changing.
  req["startFromHead"] = true;
  req["limit"] = 4;
  std::vector<std::string> forwards;
  json::value fwd;
  for (int guard = 0; guard < 10; ++guard) {
    json::object r = req;
    if (!fwd.is_null()) r["nextToken"] = fwd;
    auto page = ok("GetLogEvents", r);
    auto msgs = messages(page);
    forwards.insert(forwards.end(), msgs.begin(), msgs.end());
    if (page.at("nextForwardToken") == fwd) break;
    fwd = page.at("nextForwardToken");
  }
  EXPECT_EQ(forwards.size(), 10u);
  EXPECT_EQ(forwards.front(), "m0");
  EXPECT_EQ(forwards.back(), "m9");

  // Polling with the end token: nothing, same token; new events appear once put.
  json::object poll = base;
  poll["nextToken"] = fwd;
  auto same = ok("GetLogEvents", poll);
  EXPECT_TRUE(messages(same).empty());
  EXPECT_EQ(same.at("nextForwardToken"), fwd);
  put("s", {{kNow, "late"}});
  auto fresh = ok("GetLogEvents", poll);
  EXPECT_EQ(messages(fresh), std::vector<std::string>{"late"});

  // Time window: startTime inclusive, endTime exclusive.
  json::object window = base;
  window["startTime"] = kNow - 98;
  window["endTime"] = kNow - 95;
  EXPECT_EQ(messages(ok("GetLogEvents", window)), (std::vector<std::string>{"m2", "m3", "m4"}));

  json::object badToken = base;
  badToken["nextToken"] = "f/123";
  err("GetLogEvents", badToken, "InvalidParameterException");
}

TEST_F(LogsApiTest, GetLogEventsOnAnEmptyStreamGivesTokensThatLaterSeeEvents) {
  makeStream("s");
  json::object base{{"logGroupName", kGroup}, {"logStreamName", "s"}};
  auto empty = ok("GetLogEvents", base);
  EXPECT_TRUE(messages(empty).empty());
  put("s", {{kNow - 1, "first"}});
  json::object poll = base;
  poll["nextToken"] = empty.at("nextForwardToken");
  EXPECT_EQ(messages(ok("GetLogEvents", poll)), std::vector<std::string>{"first"});
}

TEST_F(LogsApiTest, FilterLogEventsByTimeStreamsAndTerms) {
  makeStream("2024/05/01/[$LATEST]aaa");
  makeStream("2024/05/01/[$LATEST]bbb");
  makeStream("other");
  put("2024/05/01/[$LATEST]aaa",
      {{kNow - 50, "START RequestId: 1"}, {kNow - 40, "ERROR db timeout"}, {kNow - 30, "END RequestId: 1"}});
  put("2024/05/01/[$LATEST]bbb", {{kNow - 45, "ERROR \"quoted\" thing"}, {kNow - 35, "INFO fine"}});
  put("other", {{kNow - 41, "ERROR elsewhere timeout"}});

  auto all = ok("FilterLogEvents", {{"logGroupName", kGroup}, {"interleaved", true}});
  EXPECT_EQ(messages(all),
            (std::vector<std::string>{"START RequestId: 1", "ERROR \"quoted\" thing", "ERROR elsewhere timeout",
                                      "ERROR db timeout", "INFO fine", "END RequestId: 1"}));
  EXPECT_FALSE(all.contains("nextToken"));
  const auto& e0 = all.at("events").as_array()[0].as_object();
  EXPECT_EQ(e0.at("logStreamName"), "2024/05/01/[$LATEST]aaa");
  EXPECT_EQ(e0.at("ingestionTime"), kNow);
  EXPECT_EQ(all.at("searchedLogStreams").as_array().size(), 3u);
  EXPECT_EQ(all.at("searchedLogStreams").as_array()[0].at("searchedCompletely"), true);

  // Event ids are unique and the same on every call.
  std::set<std::string> ids;
  for (const auto& e : all.at("events").as_array()) ids.insert(json::value_to<std::string>(e.at("eventId")));
  EXPECT_EQ(ids.size(), 6u);
  auto again = ok("FilterLogEvents", {{"logGroupName", kGroup}});
  EXPECT_EQ(again.at("events"), all.at("events"));

  EXPECT_EQ(
      messages(ok("FilterLogEvents", {{"logGroupName", kGroup}, {"startTime", kNow - 45}, {"endTime", kNow - 40}})),
      (std::vector<std::string>{"ERROR \"quoted\" thing", "ERROR elsewhere timeout", "ERROR db timeout"}));
  EXPECT_EQ(messages(ok("FilterLogEvents", {{"logGroupName", kGroup}, {"filterPattern", "ERROR timeout"}})),
            (std::vector<std::string>{"ERROR elsewhere timeout", "ERROR db timeout"}));
  EXPECT_EQ(messages(ok("FilterLogEvents", {{"logGroupName", kGroup}, {"filterPattern", R"("\"quoted\" thing")"}})),
            (std::vector<std::string>{"ERROR \"quoted\" thing"}));
  EXPECT_EQ(messages(ok("FilterLogEvents", {{"logGroupName", kGroup},
                                            {"logStreamNames", json::array{"other", "2024/05/01/[$LATEST]bbb"}},
                                            {"filterPattern", "ERROR"}})),
            (std::vector<std::string>{"ERROR \"quoted\" thing", "ERROR elsewhere timeout"}));
  EXPECT_EQ(messages(ok("FilterLogEvents",
                        {{"logGroupName", kGroup}, {"logStreamNamePrefix", "2024/"}, {"filterPattern", "RequestId"}})),
            (std::vector<std::string>{"START RequestId: 1", "END RequestId: 1"}));
  err("FilterLogEvents",
      {{"logGroupName", kGroup}, {"logStreamNames", json::array{"other"}}, {"logStreamNamePrefix", "o"}},
      "InvalidParameterException");
}

TEST_F(LogsApiTest, FilterLogEventsPaginatesWithoutGapsOrRepeats) {
  makeStream("a");
  makeStream("b");
  std::vector<std::pair<int64_t, std::string>> a, b;
  for (int i = 0; i < 25; ++i) {
    a.emplace_back(kNow - 1000 + i * 2, fmt::format("a{}", i));
    b.emplace_back(kNow - 1000 + i * 2, fmt::format("b{}", i));  // same timestamps as in a
  }
  put("a", a);
  put("b", b);
  auto full = messages(ok("FilterLogEvents", {{"logGroupName", kGroup}}));
  ASSERT_EQ(full.size(), 50u);

  std::vector<std::string> paged;
  json::object req{{"logGroupName", kGroup}, {"limit", 7}};
  int pages = 0;
  while (true) {
    auto page = ok("FilterLogEvents", req);
    ++pages;
    auto msgs = messages(page);
    EXPECT_LE(msgs.size(), 7u);
    paged.insert(paged.end(), msgs.begin(), msgs.end());
    if (!page.contains("nextToken")) {
      EXPECT_EQ(page.at("searchedLogStreams").as_array()[0].at("searchedCompletely"), true);
      break;
    }
    EXPECT_EQ(page.at("searchedLogStreams").as_array()[0].at("searchedCompletely"), false);
    req["nextToken"] = page.at("nextToken");
    ASSERT_LT(pages, 20);
  }
  EXPECT_EQ(pages, 8);
  EXPECT_EQ(paged, full);
}

TEST_F(LogsApiTest, FollowStyleRestartAtNewestTimestampDedupsById) {
  // What `aws logs tail --follow` does: re-query from the newest timestamp seen and drop ids seen.
  makeStream("s");
  put("s", {{kNow - 10, "x"}, {kNow - 5, "y"}});
  auto first = ok("FilterLogEvents", {{"logGroupName", kGroup}, {"startTime", kNow - 60}});
  ASSERT_EQ(first.at("events").as_array().size(), 2u);
  auto lastId = first.at("events").as_array()[1].at("eventId");
  put("s", {{kNow - 5, "z"}});
  auto next = ok("FilterLogEvents", {{"logGroupName", kGroup}, {"startTime", kNow - 5}});
  const auto& events = next.at("events").as_array();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].at("eventId"), lastId);
  EXPECT_EQ(events[1].at("message"), "z");
}

TEST_F(LogsApiTest, DescribeLogStreamsOrdering) {
  makeStream("alpha");
  makeStream("beta");
  makeStream("gamma");
  makeStream("empty");
  put("alpha", {{kNow - 10, "a"}});
  put("beta", {{kNow - 30, "b"}});
  put("gamma", {{kNow - 20, "c"}});

  auto byName = ok("DescribeLogStreams", {{"logGroupName", kGroup}});
  std::vector<std::string> names;
  for (const auto& s : byName.at("logStreams").as_array())
    names.push_back(json::value_to<std::string>(s.at("logStreamName")));
  EXPECT_EQ(names, (std::vector<std::string>{"alpha", "beta", "empty", "gamma"}));
  const auto& alpha = byName.at("logStreams").as_array()[0].as_object();
  EXPECT_EQ(alpha.at("firstEventTimestamp"), kNow - 10);
  EXPECT_EQ(alpha.at("lastEventTimestamp"), kNow - 10);
  EXPECT_EQ(alpha.at("lastIngestionTime"), kNow);
  EXPECT_EQ(alpha.at("creationTime"), kNow);
  EXPECT_EQ(alpha.at("arn"), "arn:aws:logs:eu-west-3:000000000000:log-group:/aws/lambda/fn:log-stream:alpha");
  EXPECT_GT(alpha.at("storedBytes").as_int64(), 0);
  EXPECT_TRUE(alpha.contains("uploadSequenceToken"));
  EXPECT_FALSE(byName.at("logStreams").as_array()[2].as_object().contains("lastEventTimestamp"));

  // What `aws logs tail` and `lamina logs` ask for: newest stream first, one page at a time.
  names.clear();
  json::object req{{"logGroupName", kGroup}, {"orderBy", "LastEventTime"}, {"descending", true}, {"limit", 1}};
  while (true) {
    auto page = ok("DescribeLogStreams", req);
    for (const auto& s : page.at("logStreams").as_array())
      names.push_back(json::value_to<std::string>(s.at("logStreamName")));
    if (!page.contains("nextToken")) break;
    req["nextToken"] = page.at("nextToken");
    ASSERT_LT(names.size(), 10u);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"alpha", "gamma", "beta", "empty"}));

  err("DescribeLogStreams", {{"logGroupName", kGroup}, {"orderBy", "LastEventTime"}, {"logStreamNamePrefix", "a"}},
      "InvalidParameterException");
  err("DescribeLogStreams", {{"logGroupName", kGroup}, {"orderBy", "Size"}}, "InvalidParameterException");
  auto prefixed = ok("DescribeLogStreams", {{"logGroupName", kGroup}, {"logStreamNamePrefix", "b"}});
  EXPECT_EQ(prefixed.at("logStreams").as_array().size(), 1u);
  // logGroupIdentifier may be an ARN.
  auto viaArn = ok("DescribeLogStreams",
                   {{"logGroupIdentifier", "arn:aws:logs:eu-west-3:000000000000:log-group:/aws/lambda/fn"}});
  EXPECT_EQ(viaArn.at("logStreams").as_array().size(), 4u);
}

TEST_F(LogsApiTest, EventsPutThroughTheApiSurviveARestart) {
  makeStream("s");
  put("s", {{kNow - 2, "before\nrestart \\ ok"}});
  store_.reset();
  auto s = LogStore::open(dir_.path(), clock_);
  ASSERT_TRUE(s.has_value());
  store_ = std::move(*s);
  auto got = ok("GetLogEvents", {{"logGroupName", kGroup}, {"logStreamName", "s"}});
  EXPECT_EQ(messages(got), std::vector<std::string>{"before\nrestart \\ ok"});
  auto streams = ok("DescribeLogStreams", {{"logGroupName", kGroup}});
  EXPECT_EQ(streams.at("logStreams").as_array()[0].at("lastEventTimestamp"), kNow - 2);
}

}  // namespace
}  // namespace lamina::services::logs
