// The one query decoder (api/query_string.h): splitting, percent-decoding,
// the rule for '+', and what it refuses.

#include "api/query_string.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::api {
namespace {

using ::testing::HasSubstr;

std::vector<std::string> Names(const std::vector<QueryParam>& params) {
  std::vector<std::string> out;
  for (const QueryParam& p : params) out.push_back(p.name);
  return out;
}

TEST(SplitQueryTest, PartsInOrderWithRepeatsAndEmptyValues) {
  absl::StatusOr<std::vector<QueryParam>> params =
      SplitQuery("b=2&&a=1&flag&b=3&empty=");
  ASSERT_TRUE(params.ok()) << params.status();
  EXPECT_EQ(Names(*params),
            (std::vector<std::string>{"b", "a", "flag", "b", "empty"}));
  EXPECT_EQ((*params)[0].value, "2");
  EXPECT_EQ((*params)[2].value, "");
  EXPECT_EQ((*params)[3].value, "3");
  EXPECT_TRUE(SplitQuery("")->empty());
  EXPECT_TRUE(SplitQuery("&&")->empty());
}

TEST(SplitQueryTest, PercentEscapesInEitherCase) {
  absl::StatusOr<std::vector<QueryParam>> params =
      SplitQuery("na%6De=a%2fb%2Fc%C3%A9%3D%26");
  ASSERT_TRUE(params.ok()) << params.status();
  ASSERT_EQ(params->size(), 1u);
  EXPECT_EQ((*params)[0].name, "name");
  EXPECT_EQ((*params)[0].value, "a/b/cé=&");
  EXPECT_EQ((*params)[0].literal, "a/b/cé=&");
}

TEST(SplitQueryTest, PlusIsASpaceInTextAndItselfInLiterals) {
  absl::StatusOr<std::vector<QueryParam>> params = SplitQuery(
      "manager=a+b%20c%2Bd&from_time=2026-01-02T03:04:05+02:00&x+y=1");
  ASSERT_TRUE(params.ok()) << params.status();
  ASSERT_EQ(params->size(), 3u);
  EXPECT_EQ((*params)[0].value, "a b c+d");
  EXPECT_EQ((*params)[0].literal, "a+b c+d");
  EXPECT_EQ((*params)[1].literal, "2026-01-02T03:04:05+02:00");
  EXPECT_EQ((*params)[1].value, "2026-01-02T03:04:05 02:00");
  EXPECT_EQ((*params)[2].name, "x y");
}

TEST(SplitQueryTest, RefusesBadEscapesNulAndNonUtf8NamingTheParameter) {
  for (const char* query :
       {"manager=%zz", "manager=%4", "manager=%", "manager=a%00b",
        "manager=%FF", "manager=%C3"}) {
    absl::StatusOr<std::vector<QueryParam>> params = SplitQuery(query);
    EXPECT_EQ(params.status().code(), absl::StatusCode::kInvalidArgument)
        << query;
    EXPECT_THAT(params.status().message(), HasSubstr("manager")) << query;
  }
  EXPECT_THAT(SplitQuery("a%zz=1").status().message(),
              HasSubstr("query parameter name"));
}

TEST(DecodePathSegmentTest, PlusIsItself) {
  EXPECT_EQ(*DecodePathSegment("team%2Fa%20b+c", "id"), "team/a b+c");
  EXPECT_EQ(*DecodePathSegment("%C3%A9", "id"), "é");
  absl::StatusOr<std::string> bad = DecodePathSegment("a%2", "id");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("id"));
  EXPECT_FALSE(DecodePathSegment("t%00", "id").ok());
}

TEST(ParseDecimalTest, DigitsOnly) {
  uint64_t value = 0;
  EXPECT_TRUE(ParseDecimal("0", &value));
  EXPECT_EQ(value, 0u);
  EXPECT_TRUE(ParseDecimal("18446744073709551615", &value));
  EXPECT_EQ(value, UINT64_MAX);
  for (const char* bad : {"", "+5", "-1", " 5", "5 ", "1e3", "0x10",
                          "18446744073709551616"}) {
    EXPECT_FALSE(ParseDecimal(bad, &value)) << bad;
  }
}

}  // namespace
}  // namespace vigil::api
