// FunctionRepo: durable storage of function configurations ($LATEST), one row per function, the
// configuration as a JSON document the api layer defines. Blocking: call from the thread pool.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "store/database.h"

namespace lamina::store {

class FunctionRepo {
 public:
  // `db` must outlive the repository.
  explicit FunctionRepo(Database& db) : db_(db) {}

  // Inserts; kResourceConflict if the name exists.
  Result<void> insert(const std::string& name, const std::string& configJson, int64_t nowMs);
  // Replaces an existing row; kNotFound if absent.
  Result<void> update(const std::string& name, const std::string& configJson, int64_t nowMs);
  // Deletes; kNotFound if absent.
  Result<void> remove(const std::string& name);
  // Every function, ordered by name.
  Result<std::vector<std::pair<std::string, std::string>>> loadAll();

 private:
  Database& db_;
};

}  // namespace lamina::store
