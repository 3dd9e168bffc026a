#include "artifact/unzip.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "zip_builder.h"

namespace lamina::artifact {
namespace {

namespace fs = std::filesystem;
using testutil::patch;
using testutil::ZipBuilder;

class UnzipTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "lamina-unzip-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    tmp_ = tmpl;
    dest_ = tmp_ / "out";
  }
  void TearDown() override { ASSERT_TRUE(removeTree(tmp_).has_value()); }

  static std::string read(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  static mode_t modeOf(const fs::path& p) {
    struct stat st {};
    EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
    return st.st_mode & 07777;
  }

  // Extracts `zip` expecting failure with `code`; dest must be gone afterwards. Returns the message.
  std::string expectReject(const std::string& zip, Code code, const ZipLimits& limits = {}) {
    auto r = extractZip(zip, dest_, limits);
    EXPECT_FALSE(r.has_value());
    EXPECT_FALSE(fs::exists(fs::symlink_status(dest_))) << "dest left behind";
    if (r) return "";
    EXPECT_EQ(r.error().code(), code) << r.error().message();
    return r.error().message();
  }

  fs::path tmp_;
  fs::path dest_;
};

TEST_F(UnzipTest, ExtractsFilesAndNestedDirsCreatingMissingParents) {
  std::string zip = ZipBuilder()
                        .file("a.txt", "hello")
                        .dir("empty/")
                        .file("dir/sub/b.txt", "world!")  // no entries for dir/ or dir/sub/
                        .file("./c.txt", "x")
                        .build();
  auto r = extractZip(zip, dest_, {});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, 12u);
  EXPECT_EQ(read(dest_ / "a.txt"), "hello");
  EXPECT_EQ(read(dest_ / "dir/sub/b.txt"), "world!");
  EXPECT_EQ(read(dest_ / "c.txt"), "x");
  EXPECT_TRUE(fs::is_directory(dest_ / "empty"));
  EXPECT_EQ(modeOf(dest_), 0755u);
  EXPECT_EQ(modeOf(dest_ / "dir"), 0755u);
  EXPECT_EQ(modeOf(dest_ / "dir/sub"), 0755u);
  EXPECT_EQ(modeOf(dest_ / "a.txt"), 0644u);
}

TEST_F(UnzipTest, KeepsUnixModesAndStripsSpecialBits) {
  std::string zip = ZipBuilder()
                        .file("bootstrap", "#!/bin/sh\n", S_IFREG | 0755)
                        .file("private", "p", S_IFREG | 0600)
                        .file("suid", "s", S_IFREG | S_ISUID | S_ISGID | 0755)
                        .file("python-zipinfo", "z", 0)  // Unix opsys but no mode recorded
                        .dir("sticky/", S_IFDIR | S_ISVTX | 0777)
                        .dir("locked/", S_IFDIR | 0500)
                        .file("locked/inside", "i")  // written before locked/ gets its mode
                        .build();
  auto r = extractZip(zip, dest_, {});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(modeOf(dest_ / "bootstrap"), 0755u);
  EXPECT_EQ(modeOf(dest_ / "private"), 0600u);
  EXPECT_EQ(modeOf(dest_ / "suid"), 0755u);
  EXPECT_EQ(modeOf(dest_ / "python-zipinfo"), 0644u);
  EXPECT_EQ(modeOf(dest_ / "sticky"), 0777u);
  EXPECT_EQ(modeOf(dest_ / "locked"), 0500u);
  EXPECT_EQ(read(dest_ / "locked/inside"), "i");
}

TEST_F(UnzipTest, WindowsZipGetsDefaultModes) {
  std::string zip = ZipBuilder().dosDir("lib/").dosFile("lib/app.py", "print(1)").dosFile("bootstrap", "x").build();
  auto r = extractZip(zip, dest_, {});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(modeOf(dest_ / "lib"), 0755u);
  EXPECT_EQ(modeOf(dest_ / "lib/app.py"), 0644u);
  EXPECT_EQ(modeOf(dest_ / "bootstrap"), 0644u);
}

TEST_F(UnzipTest, KeepsSymlinksThatStayInside) {
  std::string zip = ZipBuilder()
                        .file("lib/real.so", "elf")
                        .symlink("lib/alias.so", "real.so")
                        .symlink("node_modules/.bin/tool", "../tool/cli.js")
                        .symlink("top", "lib")
                        .symlink("d/root", "..")  // the code directory itself: inside
                        .build();
  auto r = extractZip(zip, dest_, {});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(fs::read_symlink(dest_ / "lib/alias.so"), "real.so");
  EXPECT_EQ(fs::read_symlink(dest_ / "node_modules/.bin/tool"), "../tool/cli.js");
  EXPECT_EQ(read(dest_ / "top/real.so"), "elf");
  EXPECT_EQ(*r, 3u + 7 + 14 + 3 + 2);  // file bytes plus symlink target bytes
}

TEST_F(UnzipTest, RejectsEscapingNames) {
  EXPECT_EQ(expectReject(ZipBuilder().file("../x", "e").build(), Code::kInvalidParameterValue),
            "Could not unzip uploaded file: entry '../x' escapes the code directory");
  expectReject(ZipBuilder().file("ok", "1").file("../evil", "e").build(), Code::kInvalidParameterValue);
  EXPECT_EQ(expectReject(ZipBuilder().file("/abs", "e").build(), Code::kInvalidParameterValue),
            "Could not unzip uploaded file: entry '/abs' is an absolute path");
  expectReject(ZipBuilder().file("a/../../b", "e").build(), Code::kInvalidParameterValue);
  expectReject(ZipBuilder().file("a/b/..", "e").build(), Code::kInvalidParameterValue);
  expectReject(ZipBuilder().file("..\\evil", "e").build(), Code::kInvalidParameterValue);
  expectReject(ZipBuilder().file("a\\b", "e").build(), Code::kInvalidParameterValue);
  expectReject(ZipBuilder().dir("../up/").build(), Code::kInvalidParameterValue);
  expectReject(ZipBuilder().file(std::string(256, 'n'), "e").build(), Code::kInvalidParameterValue);
}

TEST_F(UnzipTest, RejectsEscapingSymlinks) {
  EXPECT_NE(expectReject(ZipBuilder().symlink("passwd", "/etc/passwd").build(), Code::kInvalidParameterValue)
                .find("'passwd'"),
            std::string::npos);
  expectReject(ZipBuilder().symlink("link", "..").file("link/x", "e").build(), Code::kInvalidParameterValue);
  expectReject(ZipBuilder().symlink("a/b", "../../x").build(), Code::kInvalidParameterValue);
  expectReject(ZipBuilder().symlink("empty", "").build(), Code::kInvalidParameterValue);
  // d/up is inside (the root) but d/up/.. would be outside: '..' after a name is refused.
  expectReject(ZipBuilder().symlink("d/up", "..").symlink("x", "d/up/..").build(), Code::kInvalidParameterValue);
  expectReject(ZipBuilder().symlink("a", "x\\..\\..").build(), Code::kInvalidParameterValue);
  expectReject(ZipBuilder().symlink("long", std::string(5000, 'a')).build(), Code::kInvalidParameterValue);
}

TEST_F(UnzipTest, RejectsEntriesThroughSymlinks) {
  std::string msg =
      expectReject(ZipBuilder().symlink("d/root", "..").file("d/root/x", "e").build(), Code::kInvalidParameterValue);
  EXPECT_EQ(msg, "Could not unzip uploaded file: entry 'd/root/x' goes through a symbolic link");
  // A file entry named like an earlier symlink must not write through it.
  std::string over =
      patch(ZipBuilder().file("real", "r").symlink("linkA", "real").file("linkB", "w").build(), "linkB", "linkA");
  EXPECT_EQ(expectReject(over, Code::kInvalidParameterValue),
            "Could not unzip uploaded file: entry 'linkA' appears twice or conflicts with another entry");
  expectReject(ZipBuilder().dir("d/").symlink("d/l", ".").dir("d/l/").build(), Code::kInvalidParameterValue);
}

TEST_F(UnzipTest, RejectsConflictsAndDuplicates) {
  expectReject(ZipBuilder().file("a", "1").file("a/b", "2").build(), Code::kInvalidParameterValue);
  expectReject(ZipBuilder().file("a/b", "1").file("a", "2").build(), Code::kInvalidParameterValue);
  std::string twice = patch(ZipBuilder().file("dupA", "1").file("dupB", "2").build(), "dupB", "dupA");
  EXPECT_EQ(expectReject(twice, Code::kInvalidParameterValue),
            "Could not unzip uploaded file: entry 'dupA' appears twice or conflicts with another entry");
}

TEST_F(UnzipTest, EnforcesEntryCount) {
  ZipBuilder b;
  for (int i = 0; i < 5; ++i) b.file("f" + std::to_string(i), "x");
  std::string zip = b.build();
  expectReject(zip, Code::kInvalidParameterValue, ZipLimits{.maxEntries = 4});
  EXPECT_TRUE(extractZip(zip, dest_, ZipLimits{.maxEntries = 5}).has_value());
}

TEST_F(UnzipTest, EnforcesUnzippedSize) {
  std::string bomb = ZipBuilder().file("zeros", std::string(1 << 20, '\0')).build();
  ASSERT_LT(bomb.size(), 10000u);  // highly compressible
  EXPECT_EQ(expectReject(bomb, Code::kInvalidParameterValue, ZipLimits{.maxUnzippedBytes = 65536}),
            "Unzipped size must be smaller than 65536 bytes");
  // The running total across files counts, not just each file.
  std::string many = ZipBuilder().file("a", std::string(40000, 'a')).file("b", std::string(40000, 'b')).build();
  expectReject(many, Code::kInvalidParameterValue, ZipLimits{.maxUnzippedBytes = 65536});
  EXPECT_TRUE(extractZip(many, dest_, ZipLimits{.maxUnzippedBytes = 80000}).has_value());
}

TEST_F(UnzipTest, DeclaredSizeIsNotTrusted) {
  // The header claims 1000 bytes (0x3e8) where the data holds 1 MiB: fails either way, writes no more.
  std::string zip = ZipBuilder().file("zeros", std::string(1 << 20, '\0')).build();
  std::string declared("\x00\x00\x10\x00", 4);  // 1 MiB little-endian, in local and central headers
  std::string lie = patch(zip, declared, std::string("\xe8\x03\x00\x00", 4));
  ASSERT_NE(lie, zip);
  // libzip itself does not hold the data to the declared size; only our running count catches it.
  EXPECT_EQ(expectReject(lie, Code::kInvalidParameterValue, ZipLimits{.maxUnzippedBytes = 65536}),
            "Unzipped size must be smaller than 65536 bytes");
}

TEST_F(UnzipTest, EnforcesZippedSize) {
  std::string zip = ZipBuilder().file("a", "1").build();
  EXPECT_EQ(expectReject(zip, Code::kRequestTooLarge, ZipLimits{.maxZippedBytes = zip.size() - 1}),
            "Zipped size must be smaller than " + std::to_string(zip.size() - 1) + " bytes");
}

TEST_F(UnzipTest, RejectsCorruptInput) {
  const std::string kMessage = std::string(kCouldNotUnzip);
  EXPECT_EQ(expectReject("", Code::kInvalidParameterValue), kMessage);
  EXPECT_EQ(expectReject("this is not a zip file at all", Code::kInvalidParameterValue), kMessage);
  std::string zip = ZipBuilder().file("a.txt", std::string(5000, 'q')).file("b.txt", "hello").build();
  EXPECT_EQ(expectReject(zip.substr(0, zip.size() / 2), Code::kInvalidParameterValue), kMessage);
  EXPECT_EQ(expectReject(zip.substr(0, zip.size() - 1), Code::kInvalidParameterValue), kMessage);
  // Damage the stored data of b.txt (stored uncompressed: "hello"): a CRC error after files were written.
  std::string stored = ZipBuilder().file("a.txt", "first").file("b.txt", "hello").build();
  std::string damaged = patch(stored, "hello", "jello");
  ASSERT_NE(damaged, stored);
  EXPECT_EQ(expectReject(damaged, Code::kInvalidParameterValue), kMessage);
}

TEST_F(UnzipTest, EmptyArchiveMakesEmptyDir) {
  std::string empty("PK\x05\x06", 4);
  empty.append(18, '\0');
  auto r = extractZip(empty, dest_, {});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, 0u);
  EXPECT_TRUE(fs::is_empty(dest_));
}

TEST_F(UnzipTest, RefusesExistingDestAndLeavesItAlone) {
  fs::create_directory(dest_);
  std::ofstream(dest_ / "keep") << "k";
  auto r = extractZip(ZipBuilder().file("a", "1").build(), dest_, {});
  ASSERT_FALSE(r);
  EXPECT_EQ(read(dest_ / "keep"), "k");
}

TEST_F(UnzipTest, RemoveTreeHandlesReadOnlyTrees) {
  fs::create_directories(tmp_ / "ro/a/b");
  std::ofstream(tmp_ / "ro/a/b/f") << "f";
  fs::permissions(tmp_ / "ro/a/b", fs::perms::none);
  fs::permissions(tmp_ / "ro/a", fs::perms::owner_read | fs::perms::owner_exec);
  ASSERT_TRUE(removeTree(tmp_ / "ro"));
  EXPECT_FALSE(fs::exists(tmp_ / "ro"));
  EXPECT_TRUE(removeTree(tmp_ / "missing"));
}

}  // namespace
}  // namespace lamina::artifact
