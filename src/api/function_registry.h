// FunctionRegistry: the functions that exist — durable in SQLite (FunctionRepo), code in the
// CodeStore, and an in-memory map the invoke path reads without touching disk. Control-plane
// changes write through to SQLite on the blocking pool, then update the map on the I/O thread.
//
// Threading: the I/O thread only (load() runs before the server starts).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/json/object.hpp>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "api/function_record.h"
#include "artifact/code_store.h"
#include "core/time.h"
#include "invoke/async_target.h"
#include "runtime/function_image.h"
#include "store/function_repo.h"

namespace lamina::api {

struct VersionEntry {
  FunctionRecord record;  // immutable once published
  std::shared_ptr<const runtime::FunctionImage> image;
};

struct ProvisionedConfig {
  int requested = 0;
  int64_t lastModifiedMs = 0;
};

struct FunctionEntry {
  FunctionRecord record;  // $LATEST
  std::shared_ptr<const runtime::FunctionImage> image;
  bool updating = false;  // a control-plane change is being written
  std::map<int64_t, VersionEntry> versions;
  std::map<std::string, AliasRecord> aliases;
  std::map<std::string, ProvisionedConfig> provisioned;         // by qualifier (version or alias)
  std::map<std::string, EventInvokeConfig> eventInvokeConfigs;  // by qualifier ("$LATEST", version, alias)
};

// What a qualifier names, resolved to one configuration.
struct Resolved {
  const FunctionRecord* record;
  std::shared_ptr<const runtime::FunctionImage> image;
};

struct RegistryDeps {
  boost::asio::thread_pool& blocking;
  store::FunctionRepo& repo;
  artifact::CodeStore& code;
  const core::Clock& clock;
  std::function<Result<void>(const std::string& runtime)> checkRuntime;
  // Called after a version's code/config changed or it was deleted (revision "" = deleted; version
  // "" = the whole function).
  std::function<void(const std::string& name, const std::string& version, const std::string& revision)> onChanged;
  // Called with a function's reserved concurrency at load and whenever it changes (-1 = none,
  // also when the function is deleted).
  std::function<void(const std::string& name, int reserved)> onReservation;
  int accountConcurrency = 1000;
  // Provisioned concurrency to keep for `qualifier` (a version or alias), running `image` (the
  // version it names); count 0 = none. Called at load and on every change.
  std::function<void(const std::string& qualifier, const std::shared_ptr<const runtime::FunctionImage>& image,
                     int count)>
      onProvision;
};

class FunctionRegistry {
 public:
  explicit FunctionRegistry(RegistryDeps deps) : deps_(std::move(deps)) {}

  // Loads every stored function (blocking; at start-up). Re-extracts code trees that went missing.
  Result<void> load();

  const FunctionEntry* find(const std::string& name) const;
  const std::map<std::string, FunctionEntry>& all() const { return functions_; }

  boost::asio::awaitable<Result<FunctionRecord>> create(FunctionRecord record, std::string zip);
  boost::asio::awaitable<Result<FunctionRecord>> updateCode(const std::string& name, std::string zip,
                                                            std::string expectedRevision);
  boost::asio::awaitable<Result<FunctionRecord>> updateConfiguration(const std::string& name,
                                                                     const boost::json::object& body);
  boost::asio::awaitable<Result<void>> remove(const std::string& name);

  // $LATEST (""), a version number, or an alias. An alias with a weighted second version picks one
  // at random by the weights when `route` is set, else its primary version.
  Result<Resolved> resolve(const FunctionEntry& entry, const std::string& qualifier, bool route) const;
  // Snapshots $LATEST as the next version (or returns the newest version if nothing changed since).
  boost::asio::awaitable<Result<FunctionRecord>> publishVersion(const std::string& name, std::string codeSha256,
                                                                std::string description, std::string expectedRevision);
  boost::asio::awaitable<Result<void>> removeVersion(const std::string& name, int64_t version);
  boost::asio::awaitable<Result<AliasRecord>> putAlias(const std::string& name, AliasRecord alias, bool create,
                                                       std::string expectedRevision);
  boost::asio::awaitable<Result<void>> removeAlias(const std::string& name, const std::string& alias);
  // PutFunctionConcurrency (-1: DeleteFunctionConcurrency). Keeps >= 100 unreserved, as AWS does.
  boost::asio::awaitable<Result<void>> setReservedConcurrency(const std::string& name, int reserved);
  // The account's concurrency minus every reservation.
  int unreservedConcurrency() const;
  // PutProvisionedConcurrencyConfig (count > 0) / DeleteProvisionedConcurrencyConfig (count 0).
  boost::asio::awaitable<Result<ProvisionedConfig>> setProvisioned(const std::string& name,
                                                                   const std::string& qualifier, int count);
  // Put (replace) or, with `config` empty, delete the EventInvokeConfig of `qualifier` ("$LATEST",
  // a version or an alias; it must exist).
  boost::asio::awaitable<Result<void>> setEventInvokeConfig(const std::string& name, const std::string& qualifier,
                                                            std::optional<EventInvokeConfig> config);
  // What an asynchronous event for (function, qualifier) runs now: AsyncQueue's resolver.
  Result<invoke::AsyncTarget> asyncTarget(const std::string& name, const std::string& qualifier) const;
  // The deployment package with this content address (read on the blocking pool).
  boost::asio::awaitable<Result<std::string>> readCode(std::string sha256Hex);

 private:
  std::shared_ptr<const runtime::FunctionImage> imageOf(const FunctionRecord& r) const;
  Result<FunctionEntry*> beginUpdate(const std::string& name, const std::string& expectedRevision);
  boost::asio::awaitable<Result<FunctionRecord>> commitUpdate(FunctionEntry& entry, FunctionRecord next);
  // Writes (config set) or deletes (nullopt; an absent row is fine) one function_children row on
  // the blocking pool.
  boost::asio::awaitable<Result<void>> writeChild(const std::string& name, const std::string& kind,
                                                  const std::string& key, std::optional<std::string> config);
  // Deletes the EventInvokeConfig of a version or alias that went away.
  boost::asio::awaitable<void> dropEventInvokeConfig(const std::string& name, const std::string& key);

  RegistryDeps deps_;
  std::map<std::string, FunctionEntry> functions_;
};

}  // namespace lamina::api
