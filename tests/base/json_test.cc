// base/json.h: the one JSON writer. Strings escape as Vigil always has
// (one U+FFFD per byte that is not UTF-8), members keep their order,
// doubles print as the library prints them.

#include "base/json.h"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::base {
namespace {

using ::testing::HasSubstr;

TEST(JsonTest, ObjectsKeepTheOrderMembersWereAddedIn) {
  Json object = Json::object();
  object["zeta"] = 1;
  object["alpha"] = "a";
  object["mid"] = nullptr;
  object["list"] = Json::array({true, false, -3});
  EXPECT_EQ(DumpJson(object),
            R"({"zeta":1,"alpha":"a","mid":null,"list":[true,false,-3]})");
}

TEST(JsonTest, IntegersAtTheirLimits) {
  Json object = {{"max_u64", std::numeric_limits<uint64_t>::max()},
                 {"min_i64", std::numeric_limits<int64_t>::min()}};
  EXPECT_EQ(DumpJson(object),
            R"({"max_u64":18446744073709551615,)"
            R"("min_i64":-9223372036854775808})");
}

TEST(JsonTest, Doubles) {
  const std::vector<std::pair<double, std::string>> cases = {
      {2500.0, "2500.0"},       {0.25, "0.25"},
      {0.0, "0.0"},             {-1.5, "-1.5"},
      {0.1, "0.1"},             {1.0 / 3, "0.3333333333333333"},
      {100000.0, "100000.0"},   {0.0001, "0.0001"},
      {1e-05, "1e-05"},         {1e15, "1e+15"},
      {123456789012345.0, "123456789012345.0"},
      {1e20, "1e+20"},          {-2.5e-300, "-2.5e-300"},
      {std::nan(""), "null"},   {HUGE_VAL, "null"},
  };
  for (const auto& [value, text] : cases) {
    EXPECT_EQ(DumpJson(Json(value)), text) << value;
    std::string appended;
    AppendJsonNumber(value, &appended);
    EXPECT_EQ(appended, text) << value;
  }
  std::string negative_zero;
  AppendJsonNumber(-0.0, &negative_zero);
  EXPECT_EQ(negative_zero, DumpJson(Json(-0.0)));
}

// AppendJsonText copies compact text the library prints back as it is and
// sends the rest through the tree: either way, the library's bytes.
TEST(JsonTest, JsonTextPrintsAsTheTreeWould) {
  for (const char* text :
       {R"({"summary":"Done","artifacts":1})", R"([true,false,null,-3,0])",
        R"({"a": 1})", R"({"a":1.50})", R"({"a":1e2})", R"({"a":1E2})",
        R"({"a":-0})", R"({"a":12345678901234567890})",
        R"({"a":123456789012345678})", R"({"s":"a\/b\u00e9\n"})",
        "{\"s\":\"caf\xc3\xa9\"}", R"({"true":false,"e":"e1"})", "\"x\"",
        "7", R"({"a":[1,{"b":[]}]})", "{", "{} {}", "[1,]", "1e400", "nul",
        "[1 ,2]", "\t[1]\n", "notjson", R"({"a":1}x)", "[01]"}) {
    std::string appended;
    AppendJsonText(text, &appended);
    absl::StatusOr<Json> tree = JsonFromText(text);
    EXPECT_EQ(appended, tree.ok() ? DumpJson(*tree) : "null") << text;
  }
}

TEST(JsonTest, RoundedNumbers) {
  EXPECT_EQ(DumpJson(RoundedNumber(1234.56, 0)), "1235");
  EXPECT_EQ(DumpJson(RoundedNumber(-0.4, 0)), "0");
  EXPECT_EQ(DumpJson(RoundedNumber(35.04, 1)), "35.0");
  EXPECT_EQ(DumpJson(RoundedNumber(12.25, 1)), "12.3");
  EXPECT_EQ(DumpJson(RoundedNumber(0.0012344, 6)), "0.001234");
  EXPECT_EQ(DumpJson(RoundedNumber(1.23456, 3)), "1.235");
  EXPECT_EQ(DumpJson(RoundedNumber(HUGE_VAL, 0)), "null");
  EXPECT_EQ(DumpJson(RoundedNumber(std::nan(""), 2)), "null");
}

struct EscapeCase {
  std::string in;
  std::string out;
};

TEST(JsonTest, StringsEscapeAndReplaceEachBadByte) {
  const std::vector<EscapeCase> cases = {
      {"", R"("")"},
      {"q\"b\\s/", R"("q\"b\\s/")"},
      {"\b\f\n\r\t", R"("\b\f\n\r\t")"},
      {std::string("\x00\x01\x1f\x7f", 4), "\"\\u0000\\u0001\\u001f\x7f\""},
      {"\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80",
       "\"\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80\""},
      // One U+FFFD per byte, not per maximal subpart as the library's
      // error_handler_t::replace would: a truncated 3-byte sequence is two.
      {"\xe6\x97", "\"\xef\xbf\xbd\xef\xbf\xbd\""},
      {"\xc0\xaf", "\"\xef\xbf\xbd\xef\xbf\xbd\""},
      {"\xed\xa0\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""},
      {"a\xf4\x90\x80\x80z",
       "\"a\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdz\""},
  };
  for (const EscapeCase& c : cases) {
    EXPECT_EQ(JsonString(c.in), c.out) << c.in;
    std::string appended = "x";
    AppendJsonString(c.in, &appended);
    EXPECT_EQ(appended, "x" + c.out);
  }
}

// Text that needs no escaping takes AppendJsonString's short cut; it must
// print exactly as the library prints it.
TEST(JsonTest, PlainTextPrintsAsTheLibraryPrintsIt) {
  std::string all;
  for (int c = 0; c < 128; ++c) all.push_back(static_cast<char>(c));
  for (size_t i = 0; i < all.size(); ++i) {
    const std::string text = "a" + all.substr(i, 1) + "z";
    EXPECT_EQ(JsonString(text), Json(text).dump()) << i;
  }
  EXPECT_EQ(JsonString(all.substr(32)), Json(all.substr(32)).dump());
}

TEST(JsonTest, BadBytesDeepInADocumentAndInKeys) {
  Json document = {{"ok", "fine"},
                   {"list", Json::array({"a\xff", 1})},
                   {"k\xfe", {{"inner", "\xe6\x97"}}}};
  EXPECT_EQ(DumpJson(document),
            "{\"ok\":\"fine\",\"list\":[\"a\xef\xbf\xbd\",1],"
            "\"k\xef\xbf\xbd\":{\"inner\":\"\xef\xbf\xbd\xef\xbf\xbd\"}}");
}

TEST(JsonTest, JsonFromTextKeepsMemberOrder) {
  absl::StatusOr<Json> value =
      JsonFromText(R"({"ok": true, "files": [1, 2.5, "x"], "a": null})");
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ(DumpJson(*value), R"({"ok":true,"files":[1,2.5,"x"],"a":null})");
}

TEST(JsonTest, JsonFromTextRejectsWhatIsNotOneValue) {
  for (const char* text : {"", "{", "{} {}", "[1,]", "1e400", "nul"}) {
    absl::StatusOr<Json> value = JsonFromText(text);
    EXPECT_EQ(value.status().code(), absl::StatusCode::kInvalidArgument)
        << text;
    EXPECT_THAT(value.status().message(), HasSubstr("invalid JSON: ")) << text;
  }
}

}  // namespace
}  // namespace vigil::base
