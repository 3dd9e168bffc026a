// EventRepo: durable storage of the asynchronous invocation queue — one row per accepted event
// until it succeeded or reached its failure destination. The invoke layer keeps the live queue in
// memory and writes changes here in batches (one transaction, one fsync, for every event accepted
// while the previous batch was being written). Blocking: call from the thread pool.
#pragma once

#include <string>
#include <vector>

#include "store/database.h"

namespace lamina::store {

struct StoredEvent {
  int64_t id = 0;
  std::string function;
  std::string qualifier;  // as invoked ("" = unqualified)
  std::string requestId;
  std::string payload;
  int64_t receivedMs = 0;
  int attempts = 0;          // invocations that ran
  int64_t nextMs = 0;        // earliest time of the next attempt (epoch ms)
  std::string lastResponse;  // the last attempt's outcome, for the invocation record ("" = none yet)
};

// A retried event's new state.
struct EventUpdate {
  int64_t id = 0;
  int attempts = 0;
  int64_t nextMs = 0;
  std::string lastResponse;
};

// Changes applied in one transaction, in this order: inserts, updates, deletes. Inserted events
// are borrowed: their owner keeps them alive and unchanged until apply() returns.
struct EventBatch {
  std::vector<const StoredEvent*> inserts;
  std::vector<EventUpdate> updates;
  std::vector<int64_t> deletes;
  bool empty() const { return inserts.empty() && updates.empty() && deletes.empty(); }
};

class EventRepo {
 public:
  // `db` must outlive the repository.
  explicit EventRepo(Database& db) : db_(db) {}

  Result<void> apply(const EventBatch& batch);
  // Every queued event, oldest first.
  Result<std::vector<StoredEvent>> loadAll();

 private:
  Database& db_;
};

}  // namespace lamina::store
