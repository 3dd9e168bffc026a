// The client commands (commands.h). Each is a short script over ApiClient: build the AWS request,
// check the answer, print. Wire shapes: /work/shared/reference/lambda-control-api.md and the
// CloudWatch Logs JSON 1.1 API.
#include "cli/commands.h"

#include <unistd.h>

#include <boost/json/array.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>
#include <unordered_set>

#include "cli/zip_writer.h"
#include "core/crypto.h"
#include "core/json.h"
#include "core/strings.h"
#include "core/time.h"

namespace lamina::cli {

namespace json = boost::json;

namespace {

constexpr const char* kDefaultRole = "arn:aws:iam::000000000000:role/lamina";
constexpr const char* kDefaultRuntime = "provided.al2023";
constexpr std::chrono::seconds kInvokeTimeout{960};  // Lambda's 900 s maximum plus start-up slack

int report(const Error& e) {
  std::fprintf(stderr, "lamina: %s\n", e.message().c_str());
  return 1;
}

std::string functionPath(const std::string& name) { return "/2015-03-31/functions/" + core::uriEncode(name, false); }

std::string str(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

int64_t num(const json::object& o, std::string_view key) {
  auto v = core::getInt(o, key);
  return v && *v ? **v : 0;
}

// The JSON object body of a successful response.
Result<json::object> bodyObject(const http::Response& res) {
  auto o = core::parseJsonObject(res.body);
  if (!o) return fail(Code::kInternal, "the server sent an unreadable answer: " + o.error().message());
  return o;
}

std::string humanSize(int64_t bytes) {
  char buf[32];
  if (bytes < 1024)
    std::snprintf(buf, sizeof buf, "%lld B", static_cast<long long>(bytes));
  else if (bytes < 1024 * 1024)
    std::snprintf(buf, sizeof buf, "%.1f KB", double(bytes) / 1024);
  else
    std::snprintf(buf, sizeof buf, "%.1f MB", double(bytes) / (1024 * 1024));
  return buf;
}

// ---- deploy ----

struct Package {
  std::string zip;
  bool hasBootstrap = false;
};

Result<Package> loadPackage(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::file_status st = fs::status(path, ec);
  if (ec) return fail(Code::kInvalidParameterValue, path + ": " + ec.message());
  Package pkg;
  if (fs::is_directory(st)) {
    auto folder = zipFolder(path);
    if (!folder) return std::unexpected(folder.error());
    for (const std::string& s : folder->skipped)
      std::fprintf(stderr, "lamina: warning: skipping %s (symlink or special file)\n", s.c_str());
    pkg.zip = std::move(folder->bytes);
  } else if (fs::is_regular_file(st)) {
    auto bytes = readFileBytes(path);
    if (!bytes) return std::unexpected(bytes.error());
    pkg.zip = std::move(*bytes);
  } else {
    return fail(Code::kInvalidParameterValue, path + " is neither a folder nor a .zip file");
  }
  auto names = zipEntryNames(pkg.zip);
  if (!names) return std::unexpected(names.error().context(path));
  for (const std::string& n : *names) pkg.hasBootstrap = pkg.hasBootstrap || n == "bootstrap";
  return pkg;
}

bool configGiven(const DeployOptions& o) {
  return o.runtime || o.handler || o.memory || o.timeout || !o.env.empty() || o.role;
}

// The flags that map onto FunctionConfiguration fields, as given (nothing defaulted).
Result<json::object> configFields(const DeployOptions& o) {
  json::object c;
  if (o.runtime) c["Runtime"] = *o.runtime;
  if (o.handler) c["Handler"] = *o.handler;
  if (o.memory) c["MemorySize"] = *o.memory;
  if (o.timeout) c["Timeout"] = *o.timeout;
  if (o.role) c["Role"] = *o.role;
  if (!o.env.empty()) {
    json::object vars;
    for (const std::string& kv : o.env) {
      size_t eq = kv.find('=');
      if (eq == std::string::npos || eq == 0)
        return fail(Code::kInvalidParameterValue, "--env wants KEY=VALUE, got '" + kv + "'");
      vars[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    c["Environment"] = json::object{{"Variables", std::move(vars)}};
  }
  return c;
}

Result<http::Response> createFunction(const ApiClient& api, const DeployOptions& o, const Package& pkg,
                                      json::object fields) {
  std::string runtime = o.runtime.value_or(pkg.hasBootstrap ? kDefaultRuntime : "");
  if (runtime.empty())
    return fail(Code::kInvalidParameterValue, o.path +
                                                  " has no bootstrap at its root, so its runtime cannot be guessed; "
                                                  "pass --runtime (e.g. --runtime python3.12)");
  std::string handler = o.handler.value_or(core::startsWith(runtime, "provided") ? "bootstrap" : "");
  if (handler.empty())
    return fail(Code::kInvalidParameterValue, "runtime " + runtime + " needs --handler (e.g. --handler app.handler)");
  fields["FunctionName"] = o.name;
  fields["Runtime"] = runtime;
  fields["Handler"] = handler;
  if (!o.role) fields["Role"] = kDefaultRole;
  fields["Code"] = json::object{{"ZipFile", core::base64Encode(pkg.zip)}};
  return requireSuccess(api.call("POST", "/2015-03-31/functions", core::serialize(fields), "lambda",
                                 {{"content-type", "application/json"}}));
}

Result<http::Response> updateFunction(const ApiClient& api, const DeployOptions& o, const Package& pkg,
                                      const json::object& fields) {
  json::object code{{"ZipFile", core::base64Encode(pkg.zip)}};
  auto res = requireSuccess(api.call("PUT", functionPath(o.name) + "/code", core::serialize(code), "lambda",
                                     {{"content-type", "application/json"}}));
  if (!res || !configGiven(o)) return res;
  // AWS refuses a configuration change while the code update is still settling (409); wait it out.
  for (int attempt = 0;; ++attempt) {
    auto raw = api.call("PUT", functionPath(o.name) + "/configuration", core::serialize(fields), "lambda",
                        {{"content-type", "application/json"}});
    if (!raw || raw->status != 409 || attempt == 20) return requireSuccess(std::move(raw));
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

}  // namespace

int runDeploy(const ApiClient& api, const DeployOptions& opt) {
  auto fields = configFields(opt);
  if (!fields) return report(fields.error());
  auto pkg = loadPackage(opt.path);
  if (!pkg) return report(pkg.error());
  auto existing = api.call("GET", functionPath(opt.name) + "/configuration", "", "lambda");
  if (!existing) return report(existing.error());
  if (existing->status != 404 && !isSuccess(*existing)) return report(Error(Code::kInternal, describeError(*existing)));
  auto res = existing->status == 404 ? createFunction(api, opt, *pkg, std::move(*fields))
                                     : updateFunction(api, opt, *pkg, *fields);
  if (!res) return report(res.error());
  auto config = bodyObject(*res);
  if (!config) return report(config.error());
  std::string runtime = str(*config, "Runtime");
  std::printf("deployed %s (%s, %s, CodeSha256 %s)\n", opt.name.c_str(), runtime.empty() ? "?" : runtime.c_str(),
              humanSize(int64_t(pkg->zip.size())).c_str(), str(*config, "CodeSha256").c_str());
  return 0;
}

// ---- invoke ----

namespace {

std::string readStdin() {
  std::string data;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, stdin)) > 0) data.append(buf, n);
  return data;
}

}  // namespace

int runInvoke(const ApiClient& api, const InvokeOptions& opt) {
  std::string payload = "{}";
  if (opt.payload && *opt.payload != "-") {
    payload = *opt.payload;
  } else if (opt.payload || ::isatty(STDIN_FILENO) == 0) {
    std::string in = readStdin();
    if (!core::trim(in).empty()) payload = std::move(in);  // an empty stdin means "no event": {}
  }
  auto res = requireSuccess(api.call("POST", functionPath(opt.name) + "/invocations", std::move(payload), "lambda",
                                     {{"x-amz-invocation-type", "RequestResponse"}, {"x-amz-log-type", "Tail"}},
                                     kInvokeTimeout));
  if (!res) return report(res.error());
  if (std::string_view tail = header(*res, "x-amz-log-result"); !tail.empty()) {
    auto log = core::base64Decode(tail);
    if (log && !log->empty()) {
      std::fputs(log->c_str(), stderr);
      if (log->back() != '\n') std::fputc('\n', stderr);
    }
  }
  std::fwrite(res->body.data(), 1, res->body.size(), stdout);
  if (res->body.empty() || res->body.back() != '\n') std::fputc('\n', stdout);
  std::fflush(stdout);
  if (std::string_view err = header(*res, "x-amz-function-error"); !err.empty()) {
    std::fprintf(stderr, "lamina: function error (%.*s)\n", int(err.size()), err.data());
    return 1;
  }
  return 0;
}

// ---- list ----

int runList(const ApiClient& api) {
  std::vector<std::array<std::string, 5>> rows{{"NAME", "RUNTIME", "MEMORY", "TIMEOUT", "LAST-MODIFIED"}};
  std::string marker;
  do {
    std::string target = "/2015-03-31/functions?MaxItems=50";
    if (!marker.empty()) target += "&Marker=" + core::uriEncode(marker, false);
    auto res = requireSuccess(api.call("GET", target, "", "lambda"));
    if (!res) return report(res.error());
    auto page = bodyObject(*res);
    if (!page) return report(page.error());
    if (const json::value* fns = page->if_contains("Functions"); fns != nullptr && fns->is_array()) {
      for (const json::value& f : fns->get_array()) {
        if (!f.is_object()) continue;
        const json::object& c = f.get_object();
        rows.push_back({str(c, "FunctionName"), str(c, "Runtime"), std::to_string(num(c, "MemorySize")),
                        std::to_string(num(c, "Timeout")), str(c, "LastModified")});
      }
    }
    std::string next = str(*page, "NextMarker");
    marker = next == marker ? std::string() : next;  // a repeated marker would loop forever
  } while (!marker.empty());
  std::array<size_t, 5> width{};
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  for (const auto& r : rows)
    std::printf("%-*s  %-*s  %-*s  %-*s  %s\n", int(width[0]), r[0].c_str(), int(width[1]), r[1].c_str(), int(width[2]),
                r[2].c_str(), int(width[3]), r[3].c_str(), r[4].c_str());
  return 0;
}

// ---- logs ----

namespace {

struct LogEvent {
  std::string id;
  int64_t timestamp = 0;
  std::string message;
};

// Every event of `group` from `startTime` on (inclusive), following nextToken pages.
Result<std::vector<LogEvent>> filterEvents(const ApiClient& api, const std::string& group, int64_t startTime) {
  std::vector<LogEvent> events;
  std::string token;
  do {
    json::object req{{"logGroupName", group}, {"startTime", startTime}, {"interleaved", true}};
    if (!token.empty()) req["nextToken"] = token;
    auto res = requireSuccess(api.callLogs("FilterLogEvents", core::serialize(req)));
    if (!res) return std::unexpected(res.error());
    auto page = bodyObject(*res);
    if (!page) return std::unexpected(page.error());
    if (const json::value* list = page->if_contains("events"); list != nullptr && list->is_array()) {
      for (const json::value& e : list->get_array()) {
        if (!e.is_object()) continue;
        const json::object& o = e.get_object();
        events.push_back({str(o, "eventId"), num(o, "timestamp"), str(o, "message")});
      }
    }
    std::string next = str(*page, "nextToken");
    token = next == token ? std::string() : next;
  } while (!token.empty());
  return events;
}

void printEvent(const LogEvent& e) {
  std::string_view msg = e.message;
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == '\r')) msg.remove_suffix(1);
  std::printf("%s %.*s\n", core::isoTimestamp(e.timestamp).c_str(), int(msg.size()), msg.data());
}

}  // namespace

int runLogs(const ApiClient& api, const LogsOptions& opt) {
  std::string group = "/aws/lambda/" + opt.name;
  int64_t cursor = core::SystemClock().nowMs() - int64_t(opt.sinceSeconds) * 1000;
  // Ids of printed events stamped exactly `cursor`: the next poll starts there (inclusive) again.
  std::unordered_set<std::string> seenAtCursor;
  while (true) {
    auto events = filterEvents(api, group, cursor);
    if (!events) {
      // Following a function that has not logged yet: its group appears with its first invocation.
      if (!opt.follow || events.error().code() != Code::kResourceNotFound) return report(events.error());
      events.emplace();
    }
    for (const LogEvent& e : *events) {
      if (e.timestamp < cursor || (e.timestamp == cursor && seenAtCursor.contains(e.id))) continue;
      printEvent(e);
      if (e.timestamp > cursor) {
        cursor = e.timestamp;
        seenAtCursor.clear();
      }
      seenAtCursor.insert(e.id);
    }
    std::fflush(stdout);
    if (!opt.follow) return 0;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

// ---- delete ----

int runDelete(const ApiClient& api, const std::string& name) {
  auto res = requireSuccess(api.call("DELETE", functionPath(name), "", "lambda"));
  if (!res) return report(res.error());
  std::printf("deleted %s\n", name.c_str());
  return 0;
}

}  // namespace lamina::cli
