#include "common/text_checks.h"

#include <gtest/gtest.h>

#include <string>

#include "common/base64.h"

namespace leaseq {
namespace {

using namespace std::string_literals;

TEST(TextChecks, Utf8) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"));  // é € 😀
  EXPECT_TRUE(IsValidUtf8("nul\0inside"s));
  EXPECT_FALSE(IsValidUtf8("\xFF"));
  EXPECT_FALSE(IsValidUtf8("\x80"));            // a continuation byte alone
  EXPECT_FALSE(IsValidUtf8("caf\xC3"));         // cut short
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));        // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xE0\x80\xAF"));    // overlong
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));    // a surrogate
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(IsValidUtf8("latin-1 caf\xE9"));
}

TEST(TextChecks, ControlCharacters) {
  EXPECT_FALSE(HasControlCharacter("job-1/part.2 caf\xC3\xA9"));
  EXPECT_TRUE(HasControlCharacter("a\nb"));
  EXPECT_TRUE(HasControlCharacter("a\tb"));
  EXPECT_TRUE(HasControlCharacter("a\0b"s));
  EXPECT_TRUE(HasControlCharacter("\x1b[31mred"));
  EXPECT_TRUE(HasControlCharacter("del\x7f"));
  EXPECT_TRUE(HasControlCharacter("c1 \xC2\x85"));   // NEL
  EXPECT_FALSE(HasControlCharacter("nbsp \xC2\xA0"));  // U+00A0 is not a control
}

TEST(Base64, RoundTripsEveryByte) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (size_t n = 0; n <= all.size(); n += 37) {
    std::string back;
    ASSERT_TRUE(Base64Decode(Base64Encode(all.substr(0, n)), &back).ok());
    EXPECT_EQ(back, all.substr(0, n));
  }
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("foo"), "Zm9v");
  EXPECT_EQ(Base64Encode("\0\xff"s), "AP8=");
}

TEST(Base64, DecodingIsStrict) {
  std::string out = "unchanged";
  EXPECT_FALSE(Base64Decode("Zg=", &out).ok());
  EXPECT_FALSE(Base64Decode("Zm9v!", &out).ok());
  EXPECT_FALSE(Base64Decode("Zm 9", &out).ok());
  EXPECT_FALSE(Base64Decode("Z===", &out).ok());
  EXPECT_FALSE(Base64Decode("Zh==", &out).ok());  // padding bits set
  EXPECT_FALSE(Base64Decode("Zg==Zg==", &out).ok());  // padding in the middle
  EXPECT_EQ(out, "unchanged");
}

}  // namespace
}  // namespace leaseq
