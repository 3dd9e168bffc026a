#include "store/function_repo.h"

#include <sqlite3.h>

namespace lamina::store {

Result<void> FunctionRepo::insert(const std::string& name, const std::string& configJson, int64_t nowMs) {
  return db_.transaction([&](Database& db) -> Result<void> {
    auto check = db.prepare("SELECT 1 FROM functions WHERE name = ?");
    if (!check) return std::unexpected(check.error());
    auto exists = check->bind(1, name).step();
    if (!exists) return std::unexpected(exists.error());
    if (*exists) return fail(Code::kResourceConflict, "Function already exist: " + name);
    auto st = db.prepare("INSERT INTO functions(name, config, updated_ms) VALUES (?, ?, ?)");
    if (!st) return std::unexpected(st.error());
    auto r = st->bind(1, name).bind(2, configJson).bind(3, nowMs).step();
    if (!r) return std::unexpected(r.error());
    return {};
  });
}

Result<void> FunctionRepo::update(const std::string& name, const std::string& configJson, int64_t nowMs) {
  return db_.transaction([&](Database& db) -> Result<void> {
    auto st = db.prepare("UPDATE functions SET config = ?, updated_ms = ? WHERE name = ?");
    if (!st) return std::unexpected(st.error());
    auto r = st->bind(1, configJson).bind(2, nowMs).bind(3, name).step();
    if (!r) return std::unexpected(r.error());
    auto changes = db.prepare("SELECT changes()");
    if (!changes) return std::unexpected(changes.error());
    auto row = changes->step();
    if (!row) return std::unexpected(row.error());
    if (changes->integer(0) == 0) return fail(Code::kNotFound, "no function " + name);
    return {};
  });
}

Result<void> FunctionRepo::remove(const std::string& name) {
  return db_.transaction([&](Database& db) -> Result<void> {
    auto children = db.prepare("DELETE FROM function_children WHERE name = ?");
    if (!children) return std::unexpected(children.error());
    if (auto r = children->bind(1, name).step(); !r) return std::unexpected(r.error());
    auto st = db.prepare("DELETE FROM functions WHERE name = ?");
    if (!st) return std::unexpected(st.error());
    auto r = st->bind(1, name).step();
    if (!r) return std::unexpected(r.error());
    auto changes = db.prepare("SELECT changes()");
    if (!changes) return std::unexpected(changes.error());
    auto row = changes->step();
    if (!row) return std::unexpected(row.error());
    if (changes->integer(0) == 0) return fail(Code::kNotFound, "no function " + name);
    return {};
  });
}

Result<std::vector<std::pair<std::string, std::string>>> FunctionRepo::loadAll() {
  std::vector<std::pair<std::string, std::string>> out;
  auto r = db_.read([&](Database& db) -> Result<void> {
    auto st = db.prepare("SELECT name, config FROM functions ORDER BY name");
    if (!st) return std::unexpected(st.error());
    while (true) {
      auto row = st->step();
      if (!row) return std::unexpected(row.error());
      if (!*row) break;
      out.emplace_back(st->text(0), st->text(1));
    }
    return {};
  });
  if (!r) return std::unexpected(r.error());
  return out;
}

Result<void> FunctionRepo::putChild(const Child& child, const std::string* functionConfig, int64_t nowMs) {
  return db_.transaction([&](Database& db) -> Result<void> {
    auto st = db.prepare("INSERT OR REPLACE INTO function_children(name, kind, key, config) VALUES (?, ?, ?, ?)");
    if (!st) return std::unexpected(st.error());
    if (auto r = st->bind(1, child.name).bind(2, child.kind).bind(3, child.key).bind(4, child.config).step(); !r)
      return std::unexpected(r.error());
    if (functionConfig) {
      auto up = db.prepare("UPDATE functions SET config = ?, updated_ms = ? WHERE name = ?");
      if (!up) return std::unexpected(up.error());
      if (auto r = up->bind(1, *functionConfig).bind(2, nowMs).bind(3, child.name).step(); !r)
        return std::unexpected(r.error());
    }
    return {};
  });
}

Result<void> FunctionRepo::removeChild(const std::string& name, const std::string& kind, const std::string& key) {
  return db_.transaction([&](Database& db) -> Result<void> {
    auto st = db.prepare("DELETE FROM function_children WHERE name = ? AND kind = ? AND key = ?");
    if (!st) return std::unexpected(st.error());
    if (auto r = st->bind(1, name).bind(2, kind).bind(3, key).step(); !r) return std::unexpected(r.error());
    auto changes = db.prepare("SELECT changes()");
    if (!changes) return std::unexpected(changes.error());
    auto row = changes->step();
    if (!row) return std::unexpected(row.error());
    if (changes->integer(0) == 0) return fail(Code::kNotFound, "no " + kind + " " + key + " of " + name);
    return {};
  });
}

Result<std::vector<FunctionRepo::Child>> FunctionRepo::loadChildren() {
  std::vector<Child> out;
  auto r = db_.read([&](Database& db) -> Result<void> {
    auto st = db.prepare("SELECT name, kind, key, config FROM function_children ORDER BY name, kind, key");
    if (!st) return std::unexpected(st.error());
    while (true) {
      auto row = st->step();
      if (!row) return std::unexpected(row.error());
      if (!*row) break;
      out.push_back(Child{st->text(0), st->text(1), st->text(2), st->text(3)});
    }
    return {};
  });
  if (!r) return std::unexpected(r.error());
  return out;
}

}  // namespace lamina::store
