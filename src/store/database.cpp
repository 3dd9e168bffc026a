#include "store/database.h"

#include <sqlite3.h>

#include <array>

namespace lamina::store {

namespace {

// Numbered migrations: index + 1 is the schema version each one produces. Append only.
constexpr std::array<const char*, 3> kMigrations = {
    // 1: functions ($LATEST configuration as JSON).
    "CREATE TABLE functions ("
    "  name TEXT PRIMARY KEY,"
    "  config TEXT NOT NULL,"
    "  updated_ms INTEGER NOT NULL)",
    // 2: what hangs off a function: published versions (kind 'version', key "1", "2", ...) and
    // aliases (kind 'alias'), each a JSON document.
    "CREATE TABLE function_children ("
    "  name TEXT NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  key TEXT NOT NULL,"
    "  config TEXT NOT NULL,"
    "  PRIMARY KEY (name, kind, key))",
    // 3: the asynchronous invocation queue: one row per accepted event until it succeeded or
    // reached its failure destination (invoke/async_queue.h).
    "CREATE TABLE async_events ("
    "  id INTEGER PRIMARY KEY,"
    "  function TEXT NOT NULL,"
    "  qualifier TEXT NOT NULL,"
    "  request_id TEXT NOT NULL,"
    "  payload TEXT NOT NULL,"
    "  received_ms INTEGER NOT NULL,"
    "  attempts INTEGER NOT NULL,"
    "  next_ms INTEGER NOT NULL,"
    "  last_response TEXT NOT NULL)",
};

std::unexpected<Error> sqliteError(sqlite3* db, std::string_view what) {
  return fail(Code::kInternal, std::string(what) + ": " + sqlite3_errmsg(db));
}

}  // namespace

Result<std::unique_ptr<Database>> Database::open(const std::filesystem::path& file) {
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(file.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  std::unique_ptr<Database> db(new Database(raw));
  if (rc != SQLITE_OK) return sqliteError(raw, "opening " + file.string());
  sqlite3_busy_timeout(raw, 5000);
  for (const char* pragma : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA foreign_keys=ON"}) {
    if (auto r = db->exec(pragma); !r) return std::unexpected(r.error());
  }
  if (auto r = db->migrate(); !r) return std::unexpected(r.error());
  return db;
}

Database::~Database() { sqlite3_close_v2(db_); }

Result<void> Database::exec(const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return fail(Code::kInternal, "sqlite: " + msg + " (in: " + sql.substr(0, 80) + ")");
  }
  return {};
}

Result<Statement> Database::prepare(const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, sql.c_str(), int(sql.size()), &stmt, nullptr) != SQLITE_OK)
    return sqliteError(db_, "preparing statement");
  return Statement(db_, stmt);
}

Result<void> Database::migrate() {
  if (auto r = exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)"); !r) return r;
  auto st = prepare("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
  if (!st) return std::unexpected(st.error());
  auto row = st->step();
  if (!row) return std::unexpected(row.error());
  schemaVersion_ = int(st->integer(0));
  if (schemaVersion_ > int(kMigrations.size()))
    return fail(Code::kInternal, "the data directory was written by a newer lamina (schema " +
                                     std::to_string(schemaVersion_) + "); upgrade lamina or use another --data-dir");
  for (size_t v = size_t(schemaVersion_); v < kMigrations.size(); ++v) {
    if (auto r = exec("BEGIN IMMEDIATE"); !r) return r;
    auto r = exec(kMigrations[v]);
    if (r) r = exec("INSERT INTO schema_migrations(version) VALUES (" + std::to_string(v + 1) + ")");
    if (!r) {
      (void)exec("ROLLBACK");
      return std::unexpected(r.error().context("migration " + std::to_string(v + 1)));
    }
    if (auto c = exec("COMMIT"); !c) return c;
    schemaVersion_ = int(v + 1);
  }
  return {};
}

Result<void> Database::transaction(const std::function<Result<void>(Database&)>& fn) {
  std::lock_guard lock(mu_);
  if (auto r = exec("BEGIN IMMEDIATE"); !r) return r;
  auto r = fn(*this);
  if (!r) {
    (void)exec("ROLLBACK");
    return r;
  }
  return exec("COMMIT");
}

Result<void> Database::read(const std::function<Result<void>(Database&)>& fn) {
  std::lock_guard lock(mu_);
  return fn(*this);
}

Statement::~Statement() {
  if (stmt_) sqlite3_finalize(stmt_);
}

Statement& Statement::bind(int index, std::string_view text) {
  sqlite3_bind_text(stmt_, index, text.data(), int(text.size()), SQLITE_TRANSIENT);
  return *this;
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

Statement& Statement::bind(int index, int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}

Result<bool> Statement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return sqliteError(db_, "sqlite step");
}

std::string Statement::text(int col) const {
  const unsigned char* t = sqlite3_column_text(stmt_, col);
  return t ? std::string(reinterpret_cast<const char*>(t), size_t(sqlite3_column_bytes(stmt_, col))) : std::string();
}

int64_t Statement::integer(int col) const { return sqlite3_column_int64(stmt_, col); }

}  // namespace lamina::store
