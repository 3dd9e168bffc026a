#include "store/database.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>

#include "store/event_repo.h"
#include "store/function_repo.h"

namespace lamina::store {

namespace {
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/lamina-store-test-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};
}  // namespace

TEST(Database, MigratesOnceAndUsesWal) {
  TempDir dir;
  {
    auto db = Database::open(dir.path() / "lamina.db");
    ASSERT_TRUE(db.has_value()) << db.error().message();
    EXPECT_EQ((*db)->schemaVersion(), 3);
  }
  auto again = Database::open(dir.path() / "lamina.db");
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ((*again)->schemaVersion(), 3);
  std::string mode;
  auto r = (*again)->read([&](Database& db) -> Result<void> {
    auto st = db.prepare("PRAGMA journal_mode");
    if (!st) return std::unexpected(st.error());
    if (auto row = st->step(); !row) return std::unexpected(row.error());
    mode = st->text(0);
    return {};
  });
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(mode, "wal");
}

TEST(Database, RefusesASchemaFromTheFuture) {
  TempDir dir;
  {
    auto db = Database::open(dir.path() / "lamina.db");
    ASSERT_TRUE(db.has_value());
    ASSERT_TRUE((*db)->transaction([](Database& d) { return d.exec("INSERT INTO schema_migrations VALUES (99)"); }));
  }
  auto db = Database::open(dir.path() / "lamina.db");
  ASSERT_FALSE(db.has_value());
  EXPECT_NE(db.error().message().find("newer lamina"), std::string::npos);
}

TEST(FunctionRepo, InsertUpdateRemoveAndConflicts) {
  TempDir dir;
  auto db = Database::open(dir.path() / "lamina.db");
  ASSERT_TRUE(db.has_value());
  FunctionRepo repo(**db);
  ASSERT_TRUE(repo.insert("b", "{\"v\":1}", 1));
  ASSERT_TRUE(repo.insert("a", "{\"v\":2}", 1));
  auto dup = repo.insert("a", "{}", 2);
  ASSERT_FALSE(dup.has_value());
  EXPECT_EQ(dup.error().code(), Code::kResourceConflict);
  ASSERT_TRUE(repo.update("a", "{\"v\":3}", 3));
  EXPECT_EQ(repo.update("zzz", "{}", 3).error().code(), Code::kNotFound);
  auto all = repo.loadAll().value();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].first, "a");
  EXPECT_EQ(all[0].second, "{\"v\":3}");
  ASSERT_TRUE(repo.remove("b"));
  EXPECT_EQ(repo.remove("b").error().code(), Code::kNotFound);
  EXPECT_EQ(repo.loadAll().value().size(), 1u);
}

// Versions and aliases hang off a function: a publish writes the version and the function's row
// together, and deleting the function takes them along.
TEST(FunctionRepo, ChildrenAreWrittenWithTheFunctionAndDeletedWithIt) {
  TempDir dir;
  auto db = Database::open(dir.path() / "lamina.db");
  ASSERT_TRUE(db.has_value());
  FunctionRepo repo(**db);
  ASSERT_TRUE(repo.insert("f", "{\"last\":0}", 1));
  ASSERT_TRUE(repo.insert("g", "{}", 1));
  std::string latest = "{\"last\":1}";
  ASSERT_TRUE(repo.putChild({"f", "version", "1", "{\"v\":1}"}, &latest, 2));
  ASSERT_TRUE(repo.putChild({"f", "alias", "live", "{\"to\":1}"}));
  ASSERT_TRUE(repo.putChild({"f", "alias", "live", "{\"to\":2}"}));  // replaced, not duplicated
  ASSERT_TRUE(repo.putChild({"g", "alias", "x", "{}"}));
  EXPECT_EQ(repo.loadAll().value()[0].second, latest);
  auto children = repo.loadChildren().value();
  ASSERT_EQ(children.size(), 3u);
  EXPECT_EQ(children[0].kind, "alias");
  EXPECT_EQ(children[0].config, "{\"to\":2}");
  EXPECT_EQ(children[1].key, "1");
  EXPECT_EQ(repo.removeChild("f", "alias", "nope").error().code(), Code::kNotFound);
  ASSERT_TRUE(repo.removeChild("f", "alias", "live"));
  ASSERT_TRUE(repo.remove("f"));
  children = repo.loadChildren().value();
  ASSERT_EQ(children.size(), 1u);
  EXPECT_EQ(children[0].name, "g");
}

TEST(EventRepo, BatchesSurviveReopeningInOrder) {
  TempDir dir;
  StoredEvent a{1, "f", "", "req-a", R"({"n":1})", 1000, 0, 1000, ""};
  StoredEvent b{2, "g", "live", "req-b", R"({"n":2})", 1001, 0, 1001, ""};
  StoredEvent c{3, "f", "2", "req-c", R"({"n":3})", 1002, 0, 1002, ""};
  {
    auto db = Database::open(dir.path() / "lamina.db");
    ASSERT_TRUE(db.has_value());
    EventRepo repo(**db);
    EventBatch first;
    first.inserts = {&a, &b, &c};
    ASSERT_TRUE(repo.apply(first).has_value());
    // One batch may update one event, delete another and insert a third (a destination's record).
    StoredEvent d{4, "dest", "", "req-d", R"({"record":true})", 1003, 0, 1003, ""};
    EventBatch second;
    second.inserts = {&d};
    second.updates = {{2, 1, 61001, R"("responseContext":{})"}};
    second.deletes = {1, 3};
    ASSERT_TRUE(repo.apply(second).has_value());
  }
  auto db = Database::open(dir.path() / "lamina.db");
  ASSERT_TRUE(db.has_value());
  auto loaded = EventRepo(**db).loadAll();
  ASSERT_TRUE(loaded.has_value()) << loaded.error().message();
  ASSERT_EQ(loaded->size(), 2u);
  EXPECT_EQ((*loaded)[0].id, 2);
  EXPECT_EQ((*loaded)[0].qualifier, "live");
  EXPECT_EQ((*loaded)[0].requestId, "req-b");
  EXPECT_EQ((*loaded)[0].payload, R"({"n":2})");
  EXPECT_EQ((*loaded)[0].attempts, 1);
  EXPECT_EQ((*loaded)[0].nextMs, 61001);
  EXPECT_EQ((*loaded)[0].receivedMs, 1001);
  EXPECT_EQ((*loaded)[0].lastResponse, R"("responseContext":{})");
  EXPECT_EQ((*loaded)[1].id, 4);
  EXPECT_EQ((*loaded)[1].function, "dest");
}

TEST(EventRepo, AFailedBatchChangesNothing) {
  TempDir dir;
  auto db = Database::open(dir.path() / "lamina.db");
  ASSERT_TRUE(db.has_value());
  EventRepo repo(**db);
  StoredEvent a{1, "f", "", "req-a", "{}", 1, 0, 1, ""};
  EventBatch first;
  first.inserts = {&a};
  ASSERT_TRUE(repo.apply(first).has_value());
  StoredEvent b{2, "f", "", "req-b", "{}", 2, 0, 2, ""};
  EventBatch clash;  // a duplicate id fails the whole transaction
  clash.inserts = {&b, &a};
  clash.deletes = {1};
  EXPECT_FALSE(repo.apply(clash).has_value());
  auto loaded = repo.loadAll();
  ASSERT_TRUE(loaded.has_value());
  ASSERT_EQ(loaded->size(), 1u);
  EXPECT_EQ((*loaded)[0].requestId, "req-a");
}

}  // namespace lamina::store
