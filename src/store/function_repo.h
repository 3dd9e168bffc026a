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
  // Deletes the function with its versions and aliases; kNotFound if absent.
  Result<void> remove(const std::string& name);
  // Every function, ordered by name.
  Result<std::vector<std::pair<std::string, std::string>>> loadAll();

  // Versions and aliases ("children" of kind "version" or "alias"), keyed within the function.
  struct Child {
    std::string name, kind, key, config;
  };
  // Inserts or replaces a child; with `functionConfig`, also rewrites the function's row in the
  // same transaction (PublishVersion bumps the function's last version number).
  Result<void> putChild(const Child& child, const std::string* functionConfig = nullptr, int64_t nowMs = 0);
  // Deletes a child; kNotFound if absent.
  Result<void> removeChild(const std::string& name, const std::string& kind, const std::string& key);
  // Every child, ordered by function, kind and key.
  Result<std::vector<Child>> loadChildren();

 private:
  Database& db_;
};

}  // namespace lamina::store
