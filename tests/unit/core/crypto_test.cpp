#include "core/crypto.h"

#include <gtest/gtest.h>

namespace lamina::core {

TEST(Crypto, Sha256OfEmptyIsTheKnownDigest) {
  EXPECT_EQ(toHex(sha256("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Crypto, IncrementalSha256MatchesOneShot) {
  Sha256 h;
  h.update("hello ");
  h.update("world");
  EXPECT_EQ(h.finish(), sha256("hello world"));
}

TEST(Crypto, Base64RoundTripsEveryLength) {
  std::string data;
  for (int i = 0; i < 40; ++i) {
    auto enc = base64Encode(data);
    auto dec = base64Decode(enc);
    ASSERT_TRUE(dec.has_value()) << enc;
    EXPECT_EQ(*dec, data);
    data.push_back(char(i * 37));
  }
  EXPECT_EQ(base64Encode("hello"), "aGVsbG8=");
}

TEST(Crypto, Base64RejectsGarbage) {
  EXPECT_FALSE(base64Decode("not base64!").has_value());
  EXPECT_FALSE(base64Decode("a").has_value());
}

TEST(Crypto, CodeSha256IsBase64OfDigestLikeLambda) {
  // What Lambda reports as CodeSha256 for a zip: base64 of the raw digest, not hex.
  EXPECT_EQ(base64Encode(digestBytes(sha256("abc"))), "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
}

}  // namespace lamina::core
