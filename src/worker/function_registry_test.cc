#include "worker/function_registry.h"

#include <gtest/gtest.h>

namespace leaseq::worker {
namespace {

FnStatus Upper(std::string_view in, std::string* out) {
  for (char c : in) out->push_back(c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c);
  return FnStatus::Ok();
}

TEST(FunctionRegistry, FindsWhatWasAddedAndListsNamesSorted) {
  FunctionRegistry r;
  EXPECT_TRUE(r.empty());
  ASSERT_TRUE(r.Add("upper", Upper).ok());
  ASSERT_TRUE(r.Add("a.b:c/d-e_9", [](std::string_view, std::string*) { return FnStatus::Ok(); }).ok());
  EXPECT_FALSE(r.empty());
  EXPECT_EQ(r.Names(), (std::vector<std::string>{"a.b:c/d-e_9", "upper"}));
  auto f = r.Find("upper");
  ASSERT_NE(f, nullptr);
  std::string out;
  EXPECT_TRUE((*f)("abC", &out).ok());
  EXPECT_EQ(out, "ABC");
  EXPECT_EQ(r.Find("lower"), nullptr);
  EXPECT_EQ(r.Find(""), nullptr);
}

TEST(FunctionRegistry, RefusesBadEmptyAndTakenNames) {
  FunctionRegistry r;
  ASSERT_TRUE(r.Add("upper", Upper).ok());
  Status s = r.Add("upper", Upper);
  EXPECT_EQ(s.code(), Status::Code::kConflict);
  EXPECT_NE(s.message().find("'upper' is registered already"), std::string::npos) << s.message();
  EXPECT_FALSE(r.Add("", Upper).ok());
  EXPECT_FALSE(r.Add("has space", Upper).ok());
  EXPECT_FALSE(r.Add("new\nline", Upper).ok());
  EXPECT_FALSE(r.Add("\xc3\xa9t\xc3\xa9", Upper).ok());  // non-ASCII
  EXPECT_FALSE(r.Add(std::string(FunctionRegistry::kMaxNameBytes + 1, 'x'), Upper).ok());
  EXPECT_TRUE(r.Add(std::string(FunctionRegistry::kMaxNameBytes, 'x'), Upper).ok());
  EXPECT_FALSE(r.Add("empty", Fn()).ok());
  EXPECT_EQ(r.Names().size(), 2u);
}

TEST(FunctionRegistry, AFoundFunctionOutlivesTheRegistry) {
  std::shared_ptr<const Fn> f;
  {
    FunctionRegistry r;
    ASSERT_TRUE(r.Add("upper", Upper).ok());
    f = r.Find("upper");
  }
  std::string out;
  EXPECT_TRUE((*f)("x", &out).ok());
  EXPECT_EQ(out, "X");
}

}  // namespace
}  // namespace leaseq::worker
