#include "api/function_registry.h"

#include "api/validation.h"
#include "core/ids.h"
#include "core/json.h"
#include "core/offload.h"

namespace lamina::api {

namespace asio = boost::asio;

std::shared_ptr<const runtime::FunctionImage> FunctionRegistry::imageOf(const FunctionRecord& r) const {
  auto img = std::make_shared<runtime::FunctionImage>();
  img->name = r.name;
  img->arn = r.arn();
  img->region = r.region;
  img->runtime = r.runtime;
  img->handler = r.handler;
  img->codeDir = deps_.code.treePath(r.codeSha256Hex);
  img->memoryMb = r.memorySize;
  img->ephemeralStorageMb = r.ephemeralStorage;
  img->timeoutSec = r.timeout;
  img->variables.assign(r.variables.begin(), r.variables.end());
  img->revision = r.revisionId;
  return img;
}

Result<void> FunctionRegistry::load() {
  auto rows = deps_.repo.loadAll();
  if (!rows) return std::unexpected(rows.error());
  for (auto& [name, json] : *rows) {
    auto rec = FunctionRecord::fromStorage(json);
    if (!rec) return std::unexpected(rec.error().context("loading function " + name));
    if (auto tree = deps_.code.ensureTree(rec->codeSha256Hex); !tree)
      return std::unexpected(tree.error().context("code of function " + name));
    FunctionEntry entry{*rec, imageOf(*rec), false};
    functions_.emplace(name, std::move(entry));
  }
  return {};
}

const FunctionEntry* FunctionRegistry::find(const std::string& name) const {
  auto it = functions_.find(name);
  return it == functions_.end() ? nullptr : &it->second;
}

asio::awaitable<Result<FunctionRecord>> FunctionRegistry::create(FunctionRecord record, std::string zip) {
  if (functions_.count(record.name)) co_return fail(Code::kResourceConflict, "Function already exist: " + record.name);
  if (auto ok = deps_.checkRuntime(record.runtime); !ok) co_return std::unexpected(ok.error());
  auto& code = deps_.code;
  auto putJob = [&code, z = std::move(zip)]() { return code.put(z); };
  auto stored = co_await core::offload(deps_.blocking, std::move(putJob));
  if (!stored) co_return std::unexpected(stored.error());
  record.codeSha256Hex = stored->sha256Hex;
  record.codeSha256Base64 = stored->sha256Base64;
  record.codeSize = int64_t(stored->zippedSize);
  record.lastModifiedMs = deps_.clock.nowMs();
  record.revisionId = core::newUuid();
  if (functions_.count(record.name))  // created by a concurrent request meanwhile
    co_return fail(Code::kResourceConflict, "Function already exist: " + record.name);
  // Reserve the name while the row is written, so a concurrent create sees the conflict.
  functions_.emplace(record.name, FunctionEntry{record, imageOf(record), true});
  auto& repo = deps_.repo;
  std::string doc = record.toStorage();
  int64_t now = record.lastModifiedMs;
  auto insertJob = [&repo, name = record.name, doc, now]() { return repo.insert(name, doc, now); };
  auto written = co_await core::offload(deps_.blocking, std::move(insertJob));
  if (!written) {
    functions_.erase(record.name);
    co_return std::unexpected(written.error());
  }
  functions_.at(record.name).updating = false;
  co_return record;
}

Result<FunctionEntry*> FunctionRegistry::beginUpdate(const std::string& name, const std::string& expectedRevision) {
  auto it = functions_.find(name);
  if (it == functions_.end()) return fail(Code::kResourceNotFound, "Function not found: " + name);
  FunctionEntry& e = it->second;
  if (e.updating)
    return fail(
        Code::kResourceConflict,
        "The operation cannot be performed at this time. An update is in progress for resource: " + e.record.arn());
  if (!expectedRevision.empty() && expectedRevision != e.record.revisionId)
    return fail(Code::kPreconditionFailed,
                "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to "
                "retrieve the latest Revision Id");
  return &e;
}

asio::awaitable<Result<FunctionRecord>> FunctionRegistry::commitUpdate(FunctionEntry& entry, FunctionRecord next) {
  next.lastModifiedMs = deps_.clock.nowMs();
  next.revisionId = core::newUuid();
  entry.updating = true;
  auto& repo = deps_.repo;
  std::string doc = next.toStorage();
  int64_t now = next.lastModifiedMs;
  auto updateJob = [&repo, name = next.name, doc, now]() { return repo.update(name, doc, now); };
  auto written = co_await core::offload(deps_.blocking, std::move(updateJob));
  entry.updating = false;
  if (!written) co_return std::unexpected(written.error());
  entry.record = next;
  entry.image = imageOf(next);
  if (deps_.onChanged) deps_.onChanged(next.name, next.revisionId);
  co_return next;
}

asio::awaitable<Result<FunctionRecord>> FunctionRegistry::updateCode(const std::string& name, std::string zip,
                                                                     std::string expectedRevision) {
  auto entry = beginUpdate(name, expectedRevision);
  if (!entry) co_return std::unexpected(entry.error());
  FunctionEntry* e = *entry;
  e->updating = true;
  auto& code = deps_.code;
  auto putJob = [&code, z = std::move(zip)]() { return code.put(z); };
  auto stored = co_await core::offload(deps_.blocking, std::move(putJob));
  e->updating = false;
  if (!stored) co_return std::unexpected(stored.error());
  FunctionRecord next = e->record;
  next.codeSha256Hex = stored->sha256Hex;
  next.codeSha256Base64 = stored->sha256Base64;
  next.codeSize = int64_t(stored->zippedSize);
  co_return co_await commitUpdate(*e, std::move(next));
}

asio::awaitable<Result<FunctionRecord>> FunctionRegistry::updateConfiguration(const std::string& name,
                                                                              const boost::json::object& body) {
  auto revision = core::getString(body, "RevisionId");
  if (!revision) co_return std::unexpected(revision.error());
  auto entry = beginUpdate(name, revision->value_or(""));
  if (!entry) co_return std::unexpected(entry.error());
  FunctionEntry* e = *entry;
  FunctionRecord next = e->record;
  if (auto ok = applyConfiguration(body, next, false); !ok) co_return std::unexpected(ok.error());
  if (next.runtime != e->record.runtime) {
    if (auto ok = deps_.checkRuntime(next.runtime); !ok) co_return std::unexpected(ok.error());
  }
  co_return co_await commitUpdate(*e, std::move(next));
}

asio::awaitable<Result<void>> FunctionRegistry::remove(const std::string& nameRef) {
  // A copy: the caller's string may be the entry's own name, which erase() frees.
  const std::string name = nameRef;
  auto entry = beginUpdate(name, "");
  if (!entry) co_return std::unexpected(entry.error());
  (*entry)->updating = true;
  auto& repo = deps_.repo;
  auto removeJob = [&repo, name]() { return repo.remove(name); };
  auto removed = co_await core::offload(deps_.blocking, std::move(removeJob));
  if (!removed && removed.error().code() != Code::kNotFound) {
    functions_.at(name).updating = false;
    co_return std::unexpected(removed.error());
  }
  functions_.erase(name);
  if (deps_.onChanged) deps_.onChanged(name, "");
  co_return Result<void>();
}

}  // namespace lamina::api

namespace lamina::api {
asio::awaitable<Result<std::string>> FunctionRegistry::readCode(std::string sha256Hex) {
  auto& code = deps_.code;
  auto readJob = [&code, h = std::move(sha256Hex)]() { return code.readBlob(h); };
  co_return co_await core::offload(deps_.blocking, std::move(readJob));
}
}  // namespace lamina::api
