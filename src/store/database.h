// Database: the daemon's SQLite file (WAL mode, synchronous=FULL so that every committed
// transaction survives a crash), with numbered migrations applied at open. One connection guarded
// by a mutex: callers run on the blocking thread pool, never on the I/O thread.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "core/result.h"

struct sqlite3;
struct sqlite3_stmt;

namespace lamina::store {

class Statement;

class Database {
 public:
  static Result<std::unique_ptr<Database>> open(const std::filesystem::path& file);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Runs `fn` with the connection locked, inside a transaction (commits on success, rolls back on
  // error). Repositories do all their work through this.
  Result<void> transaction(const std::function<Result<void>(Database&)>& fn);
  // For reads that need no transaction; the connection is locked for the call.
  Result<void> read(const std::function<Result<void>(Database&)>& fn);

  // Only inside transaction()/read():
  Result<void> exec(const std::string& sql);
  Result<Statement> prepare(const std::string& sql);
  int schemaVersion() const { return schemaVersion_; }

 private:
  explicit Database(sqlite3* db) : db_(db) {}
  Result<void> migrate();
  sqlite3* db_;
  std::mutex mu_;
  int schemaVersion_ = 0;
};

// A prepared statement; bind by 1-based index, step through rows.
class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Statement(Statement&& o) noexcept : db_(o.db_), stmt_(std::exchange(o.stmt_, nullptr)) {}
  Statement(const Statement&) = delete;
  ~Statement();
  Statement& bind(int index, std::string_view text);
  Statement& bind(int index, int64_t value);
  // Makes a stepped statement ready to bind and run again.
  void reset();
  // true: a row is available; false: done.
  Result<bool> step();
  std::string text(int col) const;
  int64_t integer(int col) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

}  // namespace lamina::store
