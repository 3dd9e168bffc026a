#include "api/function_registry.h"

#include <algorithm>
#include <random>

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
  img->version = r.version;
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
    FunctionEntry entry{*rec, imageOf(*rec), false, {}, {}};
    if (rec->reservedConcurrency >= 0 && deps_.onReservation) deps_.onReservation(name, rec->reservedConcurrency);
    functions_.emplace(name, std::move(entry));
  }
  auto children = deps_.repo.loadChildren();
  if (!children) return std::unexpected(children.error());
  for (const auto& c : *children) {
    auto it = functions_.find(c.name);
    if (it == functions_.end()) continue;  // cannot happen: deleted together
    if (c.kind == "version") {
      auto rec = FunctionRecord::fromStorage(c.config);
      if (!rec) return std::unexpected(rec.error().context("loading version " + c.key + " of " + c.name));
      if (auto tree = deps_.code.ensureTree(rec->codeSha256Hex); !tree)
        return std::unexpected(tree.error().context("code of version " + c.key + " of " + c.name));
      it->second.versions[std::stoll(c.key)] = VersionEntry{*rec, imageOf(*rec)};
    } else if (c.kind == "alias") {
      auto alias = AliasRecord::fromStorage(c.config);
      if (!alias) return std::unexpected(alias.error().context("loading alias " + c.key + " of " + c.name));
      it->second.aliases[c.key] = std::move(*alias);
    } else if (c.kind == "provisioned") {
      auto doc = core::parseJsonObject(c.config);
      if (!doc) return std::unexpected(doc.error().context("loading provisioned concurrency of " + c.name));
      ProvisionedConfig pc;
      if (auto n = doc->find("Requested"); n != doc->end() && n->value().is_int64())
        pc.requested = int(n->value().as_int64());
      if (auto t = doc->find("LastModified"); t != doc->end() && t->value().is_int64())
        pc.lastModifiedMs = t->value().as_int64();
      it->second.provisioned[c.key] = pc;
    } else if (c.kind == "event-invoke-config") {
      auto config = EventInvokeConfig::fromStorage(c.config);
      if (!config) return std::unexpected(config.error().context("loading the event invoke config of " + c.name));
      it->second.eventInvokeConfigs[c.key] = std::move(*config);
    }
  }
  // Provisioned environments start once the daemon runs (children load in key order, so every
  // version and alias is known by now).
  for (auto& [name, e] : functions_) {
    for (const auto& [qualifier, pc] : e.provisioned) {
      auto target = resolve(e, qualifier, false);
      if (target && deps_.onProvision) deps_.onProvision(qualifier, target->image, pc.requested);
    }
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
  functions_.emplace(record.name, FunctionEntry{record, imageOf(record), true, {}, {}});
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
  if (deps_.onChanged) deps_.onChanged(next.name, "$LATEST", next.revisionId);
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
  if (deps_.onChanged) deps_.onChanged(name, "", "");
  if (deps_.onReservation) deps_.onReservation(name, -1);
  co_return Result<void>();
}

namespace {

double uniform01() {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(gen);
}

}  // namespace

Result<Resolved> FunctionRegistry::resolve(const FunctionEntry& e, const std::string& qualifier, bool route) const {
  if (qualifier.empty() || qualifier == "$LATEST") return Resolved{&e.record, e.image};
  auto notFound = [&] {
    return fail(Code::kResourceNotFound, "Function not found: " + e.record.arn() + ":" + qualifier);
  };
  if (isVersionNumber(qualifier)) {
    auto v = e.versions.find(std::stoll(qualifier));
    if (v == e.versions.end()) return notFound();
    return Resolved{&v->second.record, v->second.image};
  }
  auto a = e.aliases.find(qualifier);
  if (a == e.aliases.end()) return notFound();
  std::string version = a->second.functionVersion;
  if (route && !a->second.weights.empty()) {
    double r = uniform01();
    for (const auto& [v, weight] : a->second.weights) {
      if (r < weight) {
        version = v;
        break;
      }
      r -= weight;
    }
  }
  return resolve(e, version, false);
}

asio::awaitable<Result<FunctionRecord>> FunctionRegistry::publishVersion(const std::string& nameRef,
                                                                         std::string codeSha256,
                                                                         std::string description,
                                                                         std::string expectedRevision) {
  const std::string name = nameRef;
  auto entry = beginUpdate(name, expectedRevision);
  if (!entry) co_return std::unexpected(entry.error());
  FunctionEntry* e = *entry;
  if (!codeSha256.empty() && codeSha256 != e->record.codeSha256Base64)
    co_return fail(Code::kInvalidParameterValue,
                   "CodeSHA256 (" + codeSha256 + ") is different from current CodeSHA256 in $LATEST (" +
                       e->record.codeSha256Base64 + "). Please try again with the CodeSHA256 in $LATEST.");
  // Nothing changed since the last publish: that version is the answer (as AWS does).
  if (e->record.lastVersion > 0 && e->record.publishedRevision == e->record.revisionId) {
    if (auto v = e->versions.find(e->record.lastVersion); v != e->versions.end()) co_return v->second.record;
  }
  int64_t number = e->record.lastVersion + 1;
  FunctionRecord version = e->record;
  version.version = std::to_string(number);
  version.lastVersion = 0;
  version.publishedRevision.clear();
  if (!description.empty()) version.description = description;
  version.lastModifiedMs = deps_.clock.nowMs();
  version.revisionId = core::newUuid();
  FunctionRecord latest = e->record;
  latest.lastVersion = number;
  latest.publishedRevision = e->record.revisionId;

  e->updating = true;
  auto& repo = deps_.repo;
  store::FunctionRepo::Child child{name, "version", version.version, version.toStorage()};
  std::string latestDoc = latest.toStorage();
  int64_t now = version.lastModifiedMs;
  auto putJob = [&repo, child, latestDoc, now]() { return repo.putChild(child, &latestDoc, now); };
  auto written = co_await core::offload(deps_.blocking, std::move(putJob));
  auto it = functions_.find(name);
  if (it == functions_.end()) co_return fail(Code::kResourceNotFound, "Function not found: " + latest.arn());
  it->second.updating = false;
  if (!written) co_return std::unexpected(written.error());
  it->second.record = latest;  // same revision: the $LATEST image stays
  it->second.versions[number] = VersionEntry{version, imageOf(version)};
  co_return version;
}

asio::awaitable<Result<void>> FunctionRegistry::removeVersion(const std::string& nameRef, int64_t number) {
  const std::string name = nameRef;
  auto entry = beginUpdate(name, "");
  if (!entry) co_return std::unexpected(entry.error());
  FunctionEntry* e = *entry;
  std::string key = std::to_string(number);
  if (!e->versions.count(number))
    co_return fail(Code::kResourceNotFound, "Function not found: " + e->record.arn() + ":" + key);
  std::string users;
  for (const auto& [aliasName, a] : e->aliases) {
    if (a.functionVersion == key || a.weights.count(key)) users += (users.empty() ? "" : ", ") + aliasName;
  }
  if (!users.empty())
    co_return fail(Code::kResourceConflict,
                   "Unable to delete version because the following aliases reference it: [" + users + "]");
  e->updating = true;
  auto& repo = deps_.repo;
  auto removeJob = [&repo, name, key]() { return repo.removeChild(name, "version", key); };
  auto removed = co_await core::offload(deps_.blocking, std::move(removeJob));
  auto it = functions_.find(name);
  if (it == functions_.end()) co_return Result<void>();
  it->second.updating = false;
  if (!removed && removed.error().code() != Code::kNotFound) co_return std::unexpected(removed.error());
  it->second.versions.erase(number);
  if (deps_.onChanged) deps_.onChanged(name, key, "");
  if (it->second.provisioned.erase(key)) {  // its provisioned concurrency goes with the version
    auto dropJob = [&repo, name, key]() { return repo.removeChild(name, "provisioned", key); };
    static_cast<void>(co_await core::offload(deps_.blocking, std::move(dropJob)));
  }
  co_await dropEventInvokeConfig(name, key);
  co_return Result<void>();
}

asio::awaitable<Result<AliasRecord>> FunctionRegistry::putAlias(const std::string& nameRef, AliasRecord alias,
                                                                bool create, std::string expectedRevision) {
  const std::string name = nameRef;
  auto entry = beginUpdate(name, "");
  if (!entry) co_return std::unexpected(entry.error());
  FunctionEntry* e = *entry;
  std::string aliasArn = e->record.arn() + ":" + alias.name;
  auto existing = e->aliases.find(alias.name);
  if (create && existing != e->aliases.end())
    co_return fail(Code::kResourceConflict, "Alias already exists: " + aliasArn);
  if (!create) {
    if (existing == e->aliases.end()) co_return fail(Code::kResourceNotFound, "Alias not found: " + aliasArn);
    if (!expectedRevision.empty() && expectedRevision != existing->second.revisionId)
      co_return fail(Code::kPreconditionFailed,
                     "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias "
                     "API to retrieve the latest Revision Id");
  }
  auto exists = [&](const std::string& v) {
    return v == "$LATEST" || (isVersionNumber(v) && e->versions.count(std::stoll(v)));
  };
  if (!exists(alias.functionVersion))
    co_return fail(Code::kResourceNotFound, "Function not found: " + e->record.arn() + ":" + alias.functionVersion);
  for (const auto& [v, w] : alias.weights) {
    if (!exists(v)) co_return fail(Code::kResourceNotFound, "Function not found: " + e->record.arn() + ":" + v);
  }
  alias.revisionId = core::newUuid();
  auto& repo = deps_.repo;
  store::FunctionRepo::Child child{name, "alias", alias.name, alias.toStorage()};
  auto putJob = [&repo, child]() { return repo.putChild(child); };
  auto written = co_await core::offload(deps_.blocking, std::move(putJob));
  if (!written) co_return std::unexpected(written.error());
  auto it = functions_.find(name);
  if (it == functions_.end()) co_return fail(Code::kResourceNotFound, "Function not found: " + functionArn("", name));
  std::string previous = existing != e->aliases.end() ? existing->second.functionVersion : std::string();
  it->second.aliases[alias.name] = alias;
  // Provisioned concurrency on the alias follows it to its new version.
  if (auto pc = it->second.provisioned.find(alias.name);
      pc != it->second.provisioned.end() && deps_.onProvision && previous != alias.functionVersion) {
    if (auto before = resolve(it->second, previous, false); before) deps_.onProvision(alias.name, before->image, 0);
    if (auto after = resolve(it->second, alias.functionVersion, false); after)
      deps_.onProvision(alias.name, after->image, pc->second.requested);
  }
  co_return alias;
}

asio::awaitable<Result<void>> FunctionRegistry::removeAlias(const std::string& nameRef, const std::string& aliasRef) {
  const std::string name = nameRef, aliasName = aliasRef;
  auto entry = beginUpdate(name, "");
  if (!entry) co_return std::unexpected(entry.error());
  if (!(*entry)->aliases.count(aliasName))
    co_return fail(Code::kResourceNotFound, "Alias not found: " + (*entry)->record.arn() + ":" + aliasName);
  auto& repo = deps_.repo;
  auto removeJob = [&repo, name, aliasName]() { return repo.removeChild(name, "alias", aliasName); };
  auto removed = co_await core::offload(deps_.blocking, std::move(removeJob));
  if (!removed && removed.error().code() != Code::kNotFound) co_return std::unexpected(removed.error());
  if (auto it = functions_.find(name); it != functions_.end()) it->second.aliases.erase(aliasName);
  co_await dropEventInvokeConfig(name, aliasName);
  co_return Result<void>();
}

asio::awaitable<Result<ProvisionedConfig>> FunctionRegistry::setProvisioned(const std::string& nameRef,
                                                                            const std::string& qualifierRef,
                                                                            int count) {
  const std::string name = nameRef, qualifier = qualifierRef;
  auto entry = beginUpdate(name, "");
  if (!entry) co_return std::unexpected(entry.error());
  FunctionEntry* e = *entry;
  if (qualifier.empty() || qualifier == "$LATEST")
    co_return fail(Code::kInvalidParameterValue,
                   "Provisioned Concurrency Configs cannot be applied to unpublished function versions.");
  auto target = resolve(*e, qualifier, false);
  if (!target) co_return std::unexpected(target.error());
  auto existing = e->provisioned.find(qualifier);
  if (count == 0 && existing == e->provisioned.end())
    co_return fail(Code::kProvisionedConcurrencyConfigNotFound,
                   "No Provisioned Concurrency Config found for this function");
  if (count > 0 && e->record.reservedConcurrency >= 0) {
    int others = 0;
    for (const auto& [q, pc] : e->provisioned)
      if (q != qualifier) others += pc.requested;
    if (others + count > e->record.reservedConcurrency)
      co_return fail(Code::kInvalidParameterValue,
                     "Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution "
                     "for function");
  }
  ProvisionedConfig pc{count, deps_.clock.nowMs()};
  std::optional<std::string> stored;
  if (count > 0)
    stored = "{\"Requested\":" + std::to_string(count) + ",\"LastModified\":" + std::to_string(pc.lastModifiedMs) + "}";
  if (auto written = co_await writeChild(name, "provisioned", qualifier, std::move(stored)); !written)
    co_return std::unexpected(written.error());
  auto it = functions_.find(name);
  if (it == functions_.end()) co_return fail(Code::kResourceNotFound, "Function not found: " + functionArn("", name));
  auto now = resolve(it->second, qualifier, false);
  if (count > 0) {
    it->second.provisioned[qualifier] = pc;
  } else {
    it->second.provisioned.erase(qualifier);
  }
  if (now && deps_.onProvision) deps_.onProvision(qualifier, now->image, count);
  co_return pc;
}

int FunctionRegistry::unreservedConcurrency() const {
  int reserved = 0;
  for (const auto& [n, e] : functions_) reserved += std::max(0, e.record.reservedConcurrency);
  return deps_.accountConcurrency - reserved;
}

asio::awaitable<Result<void>> FunctionRegistry::setReservedConcurrency(const std::string& nameRef, int reserved) {
  constexpr int kMinUnreserved = 100;
  const std::string name = nameRef;
  auto entry = beginUpdate(name, "");
  if (!entry) co_return std::unexpected(entry.error());
  FunctionEntry* e = *entry;
  int others = 0;
  for (const auto& [n, f] : functions_)
    if (n != name) others += std::max(0, f.record.reservedConcurrency);
  if (reserved >= 0 && deps_.accountConcurrency - others - reserved < kMinUnreserved)
    co_return fail(Code::kInvalidParameterValue,
                   "Specified ReservedConcurrentExecutions for function decreases account's "
                   "UnreservedConcurrentExecution below its minimum value of [" +
                       std::to_string(kMinUnreserved) + "].");
  FunctionRecord next = e->record;
  next.reservedConcurrency = reserved;
  e->updating = true;
  auto& repo = deps_.repo;
  std::string doc = next.toStorage();
  int64_t now = deps_.clock.nowMs();
  auto updateJob = [&repo, name, doc, now]() { return repo.update(name, doc, now); };
  auto written = co_await core::offload(deps_.blocking, std::move(updateJob));
  auto it = functions_.find(name);
  if (it == functions_.end()) co_return fail(Code::kResourceNotFound, "Function not found: " + next.arn());
  it->second.updating = false;
  if (!written) co_return std::unexpected(written.error());
  it->second.record.reservedConcurrency = reserved;  // not a new revision: environments stay
  if (deps_.onReservation) deps_.onReservation(name, reserved);
  co_return Result<void>();
}

}  // namespace lamina::api

namespace lamina::api {
asio::awaitable<Result<std::string>> FunctionRegistry::readCode(std::string sha256Hex) {
  auto& code = deps_.code;
  auto readJob = [&code, h = std::move(sha256Hex)]() { return code.readBlob(h); };
  co_return co_await core::offload(deps_.blocking, std::move(readJob));
}
asio::awaitable<void> FunctionRegistry::dropEventInvokeConfig(const std::string& nameRef, const std::string& keyRef) {
  const std::string name = nameRef, key = keyRef;
  auto it = functions_.find(name);
  if (it == functions_.end() || !it->second.eventInvokeConfigs.erase(key)) co_return;
  static_cast<void>(co_await writeChild(name, "event-invoke-config", key, std::nullopt));
}

asio::awaitable<Result<void>> FunctionRegistry::writeChild(const std::string& nameRef, const std::string& kindRef,
                                                           const std::string& keyRef,
                                                           std::optional<std::string> config) {
  const std::string name = nameRef, kind = kindRef, key = keyRef;
  auto& repo = deps_.repo;
  Result<void> written;
  if (config) {
    store::FunctionRepo::Child child{name, kind, key, std::move(*config)};
    auto putJob = [&repo, child]() { return repo.putChild(child); };
    written = co_await core::offload(deps_.blocking, std::move(putJob));
  } else {
    auto dropJob = [&repo, name, kind, key]() { return repo.removeChild(name, kind, key); };
    written = co_await core::offload(deps_.blocking, std::move(dropJob));
    if (!written && written.error().code() == Code::kNotFound) written = {};
  }
  co_return written;
}

asio::awaitable<Result<void>> FunctionRegistry::setEventInvokeConfig(const std::string& nameRef,
                                                                     const std::string& qualifierRef,
                                                                     std::optional<EventInvokeConfig> config) {
  const std::string name = nameRef, qualifier = qualifierRef.empty() ? std::string("$LATEST") : qualifierRef;
  auto entry = beginUpdate(name, "");
  if (!entry) co_return std::unexpected(entry.error());
  std::optional<std::string> stored;
  if (config) stored = config->toStorage();
  if (auto written = co_await writeChild(name, "event-invoke-config", qualifier, std::move(stored)); !written)
    co_return std::unexpected(written.error());
  auto it = functions_.find(name);
  if (it == functions_.end()) co_return fail(Code::kResourceNotFound, "The function doesn't exist.");
  if (config) {
    it->second.eventInvokeConfigs[qualifier] = std::move(*config);
  } else {
    it->second.eventInvokeConfigs.erase(qualifier);
  }
  co_return Result<void>();
}

Result<invoke::AsyncTarget> FunctionRegistry::asyncTarget(const std::string& name, const std::string& qualifier) const {
  const FunctionEntry* e = find(name);
  if (!e) return fail(Code::kResourceNotFound, "Function not found: " + functionArn("", name));
  auto resolved = resolve(*e, qualifier, true);
  if (!resolved) return std::unexpected(resolved.error());
  invoke::AsyncTarget t;
  t.image = resolved->image;
  std::string key = qualifier.empty() ? std::string("$LATEST") : qualifier;
  t.invokedArn = e->record.arn() + (qualifier.empty() ? "" : ":" + qualifier);
  t.functionArn = e->record.arn() + ":" + key;
  if (auto c = e->eventInvokeConfigs.find(key); c != e->eventInvokeConfigs.end()) {
    if (c->second.maxRetries >= 0) t.maxRetries = c->second.maxRetries;
    if (c->second.maxAgeSec >= 0) t.maxAgeSec = c->second.maxAgeSec;
    t.onSuccess = c->second.onSuccess;
    t.onFailure = c->second.onFailure;
  }
  t.deadLetter = resolved->record->deadLetterTargetArn;
  t.disabled = e->record.reservedConcurrency == 0;
  return t;
}

}  // namespace lamina::api
