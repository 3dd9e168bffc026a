#include "artifact/code_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include "core/crypto.h"
#include "zip_builder.h"

namespace lamina::artifact {
namespace {

namespace fs = std::filesystem;
using testutil::ZipBuilder;

// The 22-byte empty archive; digest computed with Python's hashlib.
const std::string kEmptyZip = std::string("PK\x05\x06", 4) + std::string(18, '\0');
constexpr std::string_view kEmptyZipHex = "8739c76e681f900923b900c9df0ef75cf421d39cabb54650c4b9ad19b6a76d85";
constexpr std::string_view kEmptyZipBase64 = "hznHbmgfkAkjuQDJ3w73XPQh05yrtUZQxLmtGbanbYU=";

class CodeStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "lamina-codestore-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    auto store = CodeStore::open(root_);
    ASSERT_TRUE(store) << store.error().message();
    store_.emplace(std::move(*store));
    zip_ = ZipBuilder()
               .file("bootstrap", "#!/bin/sh\necho hi\n", S_IFREG | 0755)
               .file("lib/util.sh", "true\n")
               .symlink("lib/self", "util.sh")
               .build();
  }
  void TearDown() override { ASSERT_TRUE(removeTree(root_)); }

  static std::string read(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  bool tmpIsEmpty() const { return fs::is_empty(root_ / "tmp"); }

  fs::path root_;
  std::optional<CodeStore> store_;
  std::string zip_;
};

TEST_F(CodeStoreTest, PutReportsAwsStyleDigest) {
  auto stored = store_->put(kEmptyZip);
  ASSERT_TRUE(stored) << stored.error().message();
  EXPECT_EQ(stored->sha256Hex, kEmptyZipHex);
  EXPECT_EQ(stored->sha256Base64, kEmptyZipBase64);
  EXPECT_EQ(stored->zippedSize, 22u);
  EXPECT_EQ(stored->unzippedSize, 0u);
  EXPECT_TRUE(store_->has(kEmptyZipHex));
}

TEST_F(CodeStoreTest, PutTwiceGivesSameHashAndOneTree) {
  auto first = store_->put(zip_);
  ASSERT_TRUE(first) << first.error().message();
  auto second = store_->put(zip_);
  ASSERT_TRUE(second) << second.error().message();
  EXPECT_EQ(first->sha256Hex, second->sha256Hex);
  EXPECT_EQ(first->sha256Base64, core::base64Encode(core::digestBytes(core::sha256(zip_))));
  EXPECT_EQ(first->sha256Hex, core::toHex(core::sha256(zip_)));
  EXPECT_EQ(first->zippedSize, zip_.size());
  EXPECT_EQ(first->unzippedSize, 18u + 5 + 7);
  EXPECT_EQ(second->unzippedSize, first->unzippedSize);  // measured from the existing tree
  EXPECT_EQ(std::distance(fs::directory_iterator(root_ / "trees"), fs::directory_iterator()), 1);
  EXPECT_TRUE(tmpIsEmpty());
}

TEST_F(CodeStoreTest, TreeIsReadOnlyAndComplete) {
  auto stored = store_->put(zip_);
  ASSERT_TRUE(stored) << stored.error().message();
  fs::path tree = store_->treePath(stored->sha256Hex);
  EXPECT_EQ(read(tree / "bootstrap"), "#!/bin/sh\necho hi\n");
  EXPECT_EQ(fs::read_symlink(tree / "lib/self"), "util.sh");
  std::vector<fs::path> all{tree};
  for (const auto& e : fs::recursive_directory_iterator(tree)) all.push_back(e.path());
  for (const fs::path& p : all) {
    struct stat st {};
    ASSERT_EQ(::lstat(p.c_str(), &st), 0);
    if (!S_ISLNK(st.st_mode)) {
      EXPECT_EQ(st.st_mode & 0222, 0u) << p;
    }
  }
  struct stat st {};
  ASSERT_EQ(::stat((tree / "bootstrap").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0555u);  // exec bit kept, write bit gone
}

TEST_F(CodeStoreTest, ReadBlobRoundTrips) {
  auto stored = store_->put(zip_);
  ASSERT_TRUE(stored);
  auto blob = store_->readBlob(stored->sha256Hex);
  ASSERT_TRUE(blob) << blob.error().message();
  EXPECT_EQ(*blob, zip_);
  EXPECT_EQ(store_->blobPath(stored->sha256Hex), root_ / "blobs" / (stored->sha256Hex + ".zip"));

  auto missing = store_->readBlob(std::string(64, '0'));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), Code::kNotFound);
  EXPECT_FALSE(store_->readBlob("../../etc/passwd"));
  EXPECT_FALSE(store_->has("../../etc/passwd"));
}

TEST_F(CodeStoreTest, EnsureTreeReExtractsMissingTree) {
  auto stored = store_->put(zip_);
  ASSERT_TRUE(stored);
  fs::path tree = store_->treePath(stored->sha256Hex);
  ASSERT_TRUE(removeTree(tree));
  EXPECT_FALSE(store_->has(stored->sha256Hex));
  auto again = store_->ensureTree(stored->sha256Hex);
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(*again, tree);
  EXPECT_EQ(read(tree / "lib/util.sh"), "true\n");
  EXPECT_TRUE(store_->has(stored->sha256Hex));
  auto present = store_->ensureTree(stored->sha256Hex);  // already there: no work
  ASSERT_TRUE(present);
  EXPECT_EQ(*present, tree);

  auto unknown = store_->ensureTree(std::string(64, 'a'));
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code(), Code::kNotFound);
}

TEST_F(CodeStoreTest, EnsureTreeRefusesADamagedBlob) {
  auto stored = store_->put(zip_);
  ASSERT_TRUE(stored);
  ASSERT_TRUE(removeTree(store_->treePath(stored->sha256Hex)));
  fs::path blob = store_->blobPath(stored->sha256Hex);
  fs::permissions(blob, fs::perms::owner_write, fs::perm_options::add);
  std::ofstream(blob, std::ios::binary | std::ios::trunc) << ZipBuilder().file("other", "x").build();
  auto r = store_->ensureTree(stored->sha256Hex);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Code::kInternal);
  EXPECT_FALSE(fs::exists(store_->treePath(stored->sha256Hex)));
}

TEST_F(CodeStoreTest, PutRestoresMissingBlob) {
  auto stored = store_->put(zip_);
  ASSERT_TRUE(stored);
  fs::remove(store_->blobPath(stored->sha256Hex));
  EXPECT_FALSE(store_->has(stored->sha256Hex));
  auto again = store_->put(zip_);
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_TRUE(store_->has(stored->sha256Hex));
  EXPECT_EQ(*store_->readBlob(stored->sha256Hex), zip_);
}

TEST_F(CodeStoreTest, BadZipStoresNothing) {
  auto bad = store_->put(ZipBuilder().file("../evil", "x").build());
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), Code::kInvalidParameterValue);
  auto big = store_->put(zip_, ZipLimits{.maxZippedBytes = 10});
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().code(), Code::kRequestTooLarge);
  EXPECT_TRUE(fs::is_empty(root_ / "blobs"));
  EXPECT_TRUE(fs::is_empty(root_ / "trees"));
  EXPECT_TRUE(tmpIsEmpty());
}

TEST_F(CodeStoreTest, OpenClearsTmpLeftovers) {
  fs::create_directories(root_ / "tmp/half/sub");
  std::ofstream(root_ / "tmp/half/sub/f") << "f";
  fs::permissions(root_ / "tmp/half/sub", fs::perms::owner_read | fs::perms::owner_exec);
  std::ofstream(root_ / "tmp/blob.zip") << "partial";
  auto reopened = CodeStore::open(root_);
  ASSERT_TRUE(reopened) << reopened.error().message();
  EXPECT_TRUE(tmpIsEmpty());
}

TEST_F(CodeStoreTest, ConcurrentPutsOfSameAndDifferentZips) {
  std::string other = ZipBuilder().file("bootstrap", "other").build();
  constexpr int kThreads = 8;
  std::vector<Result<StoredCode>> results(kThreads, fail(Code::kInternal, "not run"));
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i)
    threads.emplace_back([this, i, &other, &results] { results[i] = store_->put(i % 2 ? zip_ : other); });
  for (auto& t : threads) t.join();
  for (int i = 0; i < kThreads; ++i) {
    ASSERT_TRUE(results[i]) << results[i].error().message();
    EXPECT_EQ(results[i]->sha256Hex, results[i % 2]->sha256Hex);
    EXPECT_TRUE(store_->has(results[i]->sha256Hex));
  }
  EXPECT_NE(results[0]->sha256Hex, results[1]->sha256Hex);
  EXPECT_EQ(std::distance(fs::directory_iterator(root_ / "trees"), fs::directory_iterator()), 2);
  EXPECT_TRUE(tmpIsEmpty());
}

}  // namespace
}  // namespace lamina::artifact
