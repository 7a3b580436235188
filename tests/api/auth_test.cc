// Tokens, roles and the per-token rate limit.

#include "api/auth.h"
#include "api/rate_limiter.h"
#include "api/status_mapping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::api {
namespace {

using ::testing::HasSubstr;

constexpr char kTokens[] = R"(# tokens for tests
agent-token-0123456789   agent
reader-token-0123456789  reader

admin-token-0123456789   admin
)";

TEST(AuthTest, AnonymousModeAllowsEverything) {
  Authenticator auth;
  EXPECT_TRUE(auth.anonymous_mode());
  auto principal = auth.Authenticate("");
  ASSERT_TRUE(principal.ok());
  EXPECT_TRUE(principal->anonymous);
  EXPECT_TRUE(Authorize(*principal, Action::kAdmin).ok());
}

TEST(AuthTest, BearerTokensMapToRoles) {
  auto auth = Authenticator::FromText(kTokens);
  ASSERT_TRUE(auth.ok()) << auth.status();
  EXPECT_FALSE((*auth)->anonymous_mode());
  auto agent = (*auth)->Authenticate("Bearer agent-token-0123456789");
  ASSERT_TRUE(agent.ok());
  EXPECT_EQ(agent->role, Role::kAgent);
  EXPECT_FALSE(agent->anonymous);
  EXPECT_EQ(agent->id.size(), 8u);
  EXPECT_EQ((*auth)->Authenticate("bearer reader-token-0123456789")->role,
            Role::kReader);
  EXPECT_EQ((*auth)->Authenticate("Bearer admin-token-0123456789")->role,
            Role::kAdmin);
}

TEST(AuthTest, MissingMalformedOrUnknownIsUnauthenticated) {
  auto auth = Authenticator::FromText(kTokens);
  ASSERT_TRUE(auth.ok());
  for (const char* header : {"", "Bearer", "Bearer ", "Basic abc",
                             "Bearer agent-token-012345678X",
                             "agent-token-0123456789"}) {
    EXPECT_EQ((*auth)->Authenticate(header).status().code(),
              absl::StatusCode::kUnauthenticated)
        << header;
  }
}

struct RoleCase {
  Role role;
  Action action;
  bool allowed;
};

class RoleTest : public ::testing::TestWithParam<RoleCase> {};

TEST_P(RoleTest, FollowsTheSpec) {
  const RoleCase& c = GetParam();
  Principal principal{.role = c.role, .anonymous = false, .id = "x"};
  absl::Status status = Authorize(principal, c.action);
  EXPECT_EQ(status.ok(), c.allowed) << status;
  if (!c.allowed) {
    EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Roles, RoleTest,
    ::testing::Values(RoleCase{Role::kAgent, Action::kAppend, true},
                      RoleCase{Role::kAgent, Action::kRead, true},
                      RoleCase{Role::kAgent, Action::kSubscribe, false},
                      RoleCase{Role::kAgent, Action::kAdmin, false},
                      RoleCase{Role::kReader, Action::kAppend, false},
                      RoleCase{Role::kReader, Action::kRead, true},
                      RoleCase{Role::kReader, Action::kSubscribe, true},
                      RoleCase{Role::kReader, Action::kAdmin, false},
                      RoleCase{Role::kAdmin, Action::kAppend, true},
                      RoleCase{Role::kAdmin, Action::kSubscribe, true},
                      RoleCase{Role::kAdmin, Action::kAdmin, true}));

TEST(AuthTest, BadTokensFilesAreRejectedWithTheLine) {
  auto short_token = Authenticator::FromText("short agent\n");
  EXPECT_EQ(short_token.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(short_token.status().message(), HasSubstr("line 1"));
  auto bad_role = Authenticator::FromText("# c\nagent-token-0123456789 root\n");
  EXPECT_THAT(bad_role.status().message(), HasSubstr("line 2"));
  EXPECT_THAT(bad_role.status().message(), HasSubstr("root"));
  EXPECT_EQ(Authenticator::FromText("a b c\n").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Authenticator::FromFile("/nonexistent/tokens").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(AuthTest, LoopbackHosts) {
  for (const char* host : {"127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"}) {
    EXPECT_TRUE(IsLoopbackHost(host)) << host;
  }
  for (const char* host : {"0.0.0.0", "10.0.0.1", "::", "192.168.1.1",
                           "example.com", ""}) {
    EXPECT_FALSE(IsLoopbackHost(host)) << host;
  }
}

TEST(RateLimiterTest, BurstThenRefillAtTheRate) {
  RateLimiter limiter({.events_per_second = 10, .burst = 20});
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  EXPECT_TRUE(limiter.Acquire("a", 20, t0).ok());
  absl::Status refused = limiter.Acquire("a", 5, t0);
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(refused.GetPayload(kRateLimitedPayload).value(), "1");
  // Another principal has its own bucket.
  EXPECT_TRUE(limiter.Acquire("b", 20, t0).ok());
  // Half a second refills five.
  EXPECT_TRUE(limiter.Acquire("a", 5, t0 + absl::Milliseconds(500)).ok());
  EXPECT_FALSE(limiter.Acquire("a", 1, t0 + absl::Milliseconds(500)).ok());
  // Never more than the burst.
  EXPECT_TRUE(limiter.Acquire("a", 20, t0 + absl::Hours(1)).ok());
  EXPECT_FALSE(limiter.Acquire("a", 1, t0 + absl::Hours(1)).ok());
}

TEST(RateLimiterTest, AppendLargerThanTheBurstIsRefusedWithoutRetry) {
  RateLimiter limiter({.events_per_second = 10, .burst = 20});
  absl::Status status = limiter.Acquire("a", 21);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_FALSE(status.GetPayload(kRateLimitedPayload).has_value());
}

TEST(RateLimiterTest, ZeroRateMeansNoLimit) {
  RateLimiter limiter({.events_per_second = 0});
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(limiter.Acquire("a", 1000).ok());
}

TEST(RateLimiterTest, BucketsAreBounded) {
  RateLimiter limiter({.events_per_second = 10, .burst = 20, .max_buckets = 4});
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  for (int i = 0; i < 100; ++i) {
    EXPECT_TRUE(limiter.Acquire("p" + std::to_string(i), 1, t0 + absl::Seconds(i)).ok());
  }
}

}  // namespace
}  // namespace vigil::api
