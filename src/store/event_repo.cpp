#include "store/event_repo.h"

namespace lamina::store {

Result<void> EventRepo::apply(const EventBatch& batch) {
  return db_.transaction([&](Database& db) -> Result<void> {
    if (!batch.inserts.empty()) {
      auto st = db.prepare(
          "INSERT INTO async_events(id, function, qualifier, request_id, payload, received_ms, attempts, next_ms, "
          "last_response) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
      if (!st) return std::unexpected(st.error());
      for (const StoredEvent* event : batch.inserts) {
        const StoredEvent& e = *event;
        st->bind(1, e.id).bind(2, e.function).bind(3, e.qualifier).bind(4, e.requestId).bind(5, e.payload);
        st->bind(6, e.receivedMs).bind(7, int64_t(e.attempts)).bind(8, e.nextMs).bind(9, e.lastResponse);
        if (auto r = st->step(); !r) return std::unexpected(r.error());
        st->reset();
      }
    }
    if (!batch.updates.empty()) {
      auto st = db.prepare("UPDATE async_events SET attempts = ?, next_ms = ?, last_response = ? WHERE id = ?");
      if (!st) return std::unexpected(st.error());
      for (const EventUpdate& e : batch.updates) {
        st->bind(1, int64_t(e.attempts)).bind(2, e.nextMs).bind(3, e.lastResponse).bind(4, e.id);
        if (auto r = st->step(); !r) return std::unexpected(r.error());
        st->reset();
      }
    }
    if (!batch.deletes.empty()) {
      auto st = db.prepare("DELETE FROM async_events WHERE id = ?");
      if (!st) return std::unexpected(st.error());
      for (int64_t id : batch.deletes) {
        st->bind(1, id);
        if (auto r = st->step(); !r) return std::unexpected(r.error());
        st->reset();
      }
    }
    return {};
  });
}

Result<std::vector<StoredEvent>> EventRepo::loadAll() {
  std::vector<StoredEvent> out;
  auto r = db_.read([&](Database& db) -> Result<void> {
    auto st = db.prepare(
        "SELECT id, function, qualifier, request_id, payload, received_ms, attempts, next_ms, last_response FROM "
        "async_events ORDER BY id");
    if (!st) return std::unexpected(st.error());
    while (true) {
      auto row = st->step();
      if (!row) return std::unexpected(row.error());
      if (!*row) return {};
      StoredEvent e;
      e.id = st->integer(0);
      e.function = st->text(1);
      e.qualifier = st->text(2);
      e.requestId = st->text(3);
      e.payload = st->text(4);
      e.receivedMs = st->integer(5);
      e.attempts = int(st->integer(6));
      e.nextMs = st->integer(7);
      e.lastResponse = st->text(8);
      out.push_back(std::move(e));
    }
  });
  if (!r) return std::unexpected(r.error());
  return out;
}

}  // namespace lamina::store
