// bench_async: asynchronous invocation against a running lamina, in one run with its baselines.
//  - durable enqueue: Event invokes acknowledged (202) per second over 16 connections, against the
//    naive way of making each event durable — one committed SQLite transaction per event
//    (lamina's own store, WAL + synchronous=FULL, on the same file system);
//  - end-to-end drain: from the first event queued until the queue is empty (GET /metrics), in
//    events per second, against synchronous invokes per second of the same function over 16
//    connections.
// Usage: bench_async HOST:PORT FUNCTION SCRATCH_DIR [--seconds S]
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "http_lite.h"
#include "signed_request.h"
#include "store/database.h"

using Clock = std::chrono::steady_clock;

namespace {

// Requests with `expectStatus` answered per second over `conns` connections for `seconds`.
double rate(const std::string& host, int port, const std::string& raw, const char* expectStatus, int conns,
            double seconds, long* total = nullptr) {
  std::atomic<long> done{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int c = 0; c < conns; ++c) {
    threads.emplace_back([&] {
      int fd = bench::connectTo(host, port);
      std::string buf;
      bench::Message m;
      while (!stop.load(std::memory_order_relaxed)) {
        if (!bench::writeAll(fd, raw) || !bench::readMessage(fd, buf, m)) break;
        if (m.head.find(expectStatus) == std::string::npos) {
          std::fprintf(stderr, "bench_async: unexpected answer: %s%s\n", m.head.c_str(), m.body.c_str());
          break;
        }
        done.fetch_add(1, std::memory_order_relaxed);
      }
      ::close(fd);
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : threads) t.join();
  if (total) *total = done.load();
  return double(done.load()) / seconds;
}

long queueDepth(const std::string& host, int port) {
  int fd = bench::connectTo(host, port);
  std::string req = "GET /metrics HTTP/1.1\r\nhost: " + host + "\r\ncontent-length: 0\r\n\r\n", buf;
  bench::Message m;
  long depth = -1;
  if (bench::writeAll(fd, req) && bench::readMessage(fd, buf, m)) {
    auto at = m.body.find("\nlamina_async_queue_depth ");
    if (at != std::string::npos) depth = std::atol(m.body.c_str() + at + 26);
  }
  ::close(fd);
  return depth;
}

// The naive durable queue: one transaction (one fsync) per event.
double naiveDurableInserts(const std::filesystem::path& dir, double seconds) {
  std::filesystem::create_directories(dir);
  auto db = lamina::store::Database::open(dir / "naive.db");
  if (!db) return 0;
  std::string payload = R"({"bench":true})";
  long n = 0;
  auto end = Clock::now() + std::chrono::duration<double>(seconds);
  auto t0 = Clock::now();
  while (Clock::now() < end) {
    auto r = (*db)->transaction([&](lamina::store::Database& d) -> lamina::Result<void> {
      auto st = d.prepare(
          "INSERT INTO async_events(function, qualifier, request_id, payload, received_ms, attempts, next_ms, "
          "last_response) VALUES ('noop', '', 'x', ?, 0, 0, 0, '')");
      if (!st) return std::unexpected(st.error());
      auto done = st->bind(1, payload).step();
      if (!done) return std::unexpected(done.error());
      return {};
    });
    if (!r) return 0;
    ++n;
  }
  return double(n) / std::chrono::duration<double>(Clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: bench_async HOST:PORT FUNCTION SCRATCH_DIR [--seconds S]\n");
    return 2;
  }
  std::string hostPort = argv[1], function = argv[2];
  std::filesystem::path scratch = argv[3];
  double seconds = 5;
  for (int i = 4; i + 1 < argc; i += 2)
    if (!std::strcmp(argv[i], "--seconds")) seconds = std::atof(argv[i + 1]);
  std::string host = hostPort.substr(0, hostPort.rfind(':'));
  int port = std::atoi(hostPort.c_str() + hostPort.rfind(':') + 1);

  double naive = naiveDurableInserts(scratch, std::min(seconds, 3.0));
  double sync16 = rate(host, port, bench::signedInvoke(hostPort, function, false), " 200 ", 16, std::min(seconds, 3.0));

  auto t0 = Clock::now();
  long accepted = 0;
  double enqueue = rate(host, port, bench::signedInvoke(hostPort, function, true), " 202 ", 16, seconds, &accepted);
  long depth = queueDepth(host, port);
  auto deadline = Clock::now() + std::chrono::seconds(300);
  while (depth > 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    depth = queueDepth(host, port);
  }
  double drainSeconds = std::chrono::duration<double>(Clock::now() - t0).count();
  if (depth != 0) {
    std::fprintf(stderr, "bench_async: the queue did not drain (depth %ld)\n", depth);
    return 1;
  }
  double drain = double(accepted) / drainSeconds;

  std::printf("\n| async metric | value | ratio to baseline |\n|---|---|---|\n");
  std::printf("| one transaction per event (baseline: naive durable queue) | %.0f events/s | 1.00 |\n", naive);
  std::printf("| durable enqueue, 16 connections (202 after commit) | %.0f events/s | %.1fx |\n", enqueue,
              naive > 0 ? enqueue / naive : 0.0);
  std::printf("| sync invoke, 16 connections (baseline for drain) | %.0f invokes/s | 1.00 |\n", sync16);
  std::printf("| end-to-end drain of %ld queued events | %.0f events/s | %.2fx |\n", accepted, drain,
              sync16 > 0 ? drain / sync16 : 0.0);
  return 0;
}
