// The pure parts of projections/webhooks/: signatures (against the
// Standard Webhooks reference vector), URL parsing and the forbidden address
// ranges, the retry policy and circuit breaker, and the `$webhooks` fold.

#include <arpa/inet.h>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "projections/webhooks/internal/registry.h"
#include "projections/webhooks/retry_policy.h"
#include "projections/webhooks/signature.h"
#include "projections/webhooks/target.h"

namespace vigil::webhooks {
namespace {

TEST(SignatureTest, MatchesTheStandardWebhooksReferenceVector) {
  absl::StatusOr<std::string> signature = Sign(
      "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
      1614265330, R"({"test": 2432232314})");
  ASSERT_TRUE(signature.ok()) << signature.status();
  EXPECT_EQ(*signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

TEST(SignatureTest, VerifyRefusesTamperingAndOldTimestamps) {
  const std::string secret = GenerateSecret();
  ASSERT_EQ(secret.substr(0, 6), "whsec_");
  const std::string other = GenerateSecret();
  absl::StatusOr<std::string> header =
      SignatureHeader({other, secret}, "id-1", 1000, "{\"a\":1}");
  ASSERT_TRUE(header.ok());
  EXPECT_NE(header->find(' '), std::string::npos);  // two signatures
  EXPECT_TRUE(Verify(secret, "id-1", 1000, "{\"a\":1}", *header, 1010).ok());
  EXPECT_TRUE(Verify(other, "id-1", 1000, "{\"a\":1}", *header, 1010).ok());
  EXPECT_FALSE(Verify(secret, "id-1", 1000, "{\"a\":2}", *header, 1010).ok());
  EXPECT_FALSE(Verify(secret, "id-2", 1000, "{\"a\":1}", *header, 1010).ok());
  EXPECT_FALSE(
      Verify(secret, "id-1", 1000, "{\"a\":1}", *header, 1000 + 301).ok());
  EXPECT_FALSE(Sign("nope", "id", 1, "").ok());
}

TEST(TargetTest, ParsesUrls) {
  absl::StatusOr<Url> url = ParseUrl("https://Example.com:8443/hook?x=1");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_TRUE(url->https);
  EXPECT_EQ(url->host, "example.com");
  EXPECT_EQ(url->port, 8443);
  EXPECT_EQ(url->target, "/hook?x=1");
  EXPECT_EQ(url->HostHeader(), "example.com:8443");
  url = ParseUrl("http://[::1]");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->host, "::1");
  EXPECT_EQ(url->port, 80);
  EXPECT_EQ(url->target, "/");
  for (const char* bad :
       {"ftp://a.com/", "http://", "http://user@a.com/", "http://a.com:0/",
        "http://a.com:99999/", "http://a .com/", "http://a.com/#x",
        "https://[::1/", "http://a_b!.com/"}) {
    EXPECT_FALSE(ParseUrl(bad).ok()) << bad;
  }
}

Address V4(const char* text) {
  Address address;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&address.storage);
  v4->sin_family = AF_INET;
  inet_pton(AF_INET, text, &v4->sin_addr);
  address.size = sizeof(sockaddr_in);
  return address;
}

Address V6(const char* text) {
  Address address;
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&address.storage);
  v6->sin6_family = AF_INET6;
  inet_pton(AF_INET6, text, &v6->sin6_addr);
  address.size = sizeof(sockaddr_in6);
  return address;
}

TEST(TargetTest, ForbidsLoopbackPrivateAndLinkLocal) {
  for (const char* text :
       {"127.0.0.1", "127.1.2.3", "10.0.0.1", "172.16.5.4", "172.31.255.255",
        "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "224.0.0.1",
        "255.255.255.255", "198.18.0.1"}) {
    EXPECT_TRUE(IsForbidden(V4(text))) << text;
  }
  for (const char* text :
       {"8.8.8.8", "172.32.0.1", "1.1.1.1", "93.184.216.34"}) {
    EXPECT_FALSE(IsForbidden(V4(text))) << text;
  }
  for (const char* text :
       {"::1", "::", "fe80::1", "fd00::1", "ff02::1", "::ffff:127.0.0.1",
        "::ffff:10.1.2.3", "64:ff9b::a9fe:a9fe", "2001:db8::1"}) {
    EXPECT_TRUE(IsForbidden(V6(text))) << text;
  }
  for (const char* text : {"2606:4700::1111", "::ffff:8.8.8.8"}) {
    EXPECT_FALSE(IsForbidden(V6(text))) << text;
  }
}

TEST(TargetTest, ResolveRefusesPrivateTargetsUnlessAllowed) {
  absl::StatusOr<Url> url = ParseUrl("http://localhost:9/");
  ASSERT_TRUE(url.ok());
  EXPECT_FALSE(Resolve(*url, /*allow_private=*/false).ok());
  EXPECT_TRUE(Resolve(*url, /*allow_private=*/true).ok());
  url = ParseUrl("http://127.0.0.1:9/");
  ASSERT_TRUE(url.ok());
  absl::StatusOr<std::vector<Address>> refused = Resolve(*url, false);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(RetryPolicyTest, ScheduleJitterAndRetryAfter) {
  RetryPolicy policy;
  ASSERT_EQ(policy.schedule.size(), 7u);
  EXPECT_EQ(*NextRetryDelay(policy, 1, 0.5), absl::Seconds(5));
  EXPECT_EQ(*NextRetryDelay(policy, 7, 0.5), absl::Hours(10));
  EXPECT_FALSE(NextRetryDelay(policy, 8, 0.5).has_value());
  EXPECT_EQ(*NextRetryDelay(policy, 1, 0.0), absl::Seconds(4));
  policy.scale = 0.001;
  EXPECT_EQ(*NextRetryDelay(policy, 2, 0.5), absl::Milliseconds(300));

  absl::StatusOr<std::vector<absl::Duration>> schedule =
      ParseSchedule("5s,5m,2h");
  ASSERT_TRUE(schedule.ok());
  EXPECT_EQ(*schedule,
            (std::vector<absl::Duration>{absl::Seconds(5), absl::Minutes(5),
                                         absl::Hours(2)}));
  EXPECT_EQ(FormatSchedule(*schedule), "5s,5m,2h");
  EXPECT_FALSE(ParseSchedule("5s,,1m").ok());
  EXPECT_FALSE(ParseSchedule("-5s").ok());
  EXPECT_TRUE(ParseSchedule("")->empty());

  const absl::Time now = absl::FromUnixSeconds(784111777);
  EXPECT_EQ(*ParseRetryAfter("120", now, absl::Hours(1)), absl::Seconds(120));
  EXPECT_EQ(*ParseRetryAfter("99999", now, absl::Hours(1)), absl::Hours(1));
  EXPECT_EQ(*ParseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT",
                             now - absl::Seconds(30), absl::Hours(1)),
            absl::Seconds(30));
  EXPECT_FALSE(ParseRetryAfter("soon", now, absl::Hours(1)).has_value());
}

TEST(RetryPolicyTest, CircuitOpensHalfOpensAndCloses) {
  RetryPolicy policy;
  policy.circuit_threshold = 3;
  policy.circuit_cooldown = absl::Seconds(10);
  CircuitBreaker breaker(policy);
  absl::Time now = absl::FromUnixSeconds(1000);
  EXPECT_FALSE(breaker.RecordFailure(now));
  EXPECT_FALSE(breaker.RecordFailure(now));
  EXPECT_EQ(breaker.state(now), CircuitBreaker::State::kClosed);
  EXPECT_TRUE(breaker.RecordFailure(now));
  EXPECT_EQ(breaker.state(now), CircuitBreaker::State::kOpen);
  EXPECT_EQ(breaker.NextAllowed(now), now + absl::Seconds(10));
  now += absl::Seconds(10);
  EXPECT_EQ(breaker.state(now), CircuitBreaker::State::kHalfOpen);
  breaker.RecordFailure(now);  // the probe fails: open for twice as long
  EXPECT_EQ(breaker.NextAllowed(now), now + absl::Seconds(20));
  breaker.RecordSuccess();
  EXPECT_EQ(breaker.state(now), CircuitBreaker::State::kClosed);
  EXPECT_EQ(breaker.NextAllowed(now), now);
}

eventlog::RecordedEvent Recorded(eventlog::EventData data, uint64_t position) {
  eventlog::RecordedEvent event;
  event.stream = internal::kWebhooksStream;
  event.position = position;
  event.type = data.type;
  event.data = data.data;
  event.recorded_time_us = static_cast<int64_t>(position) * 1000;
  return event;
}

TEST(RegistryTest, FoldsRegistrationsRotationsDeadLettersAndDeletes) {
  internal::Registry registry;
  eventlog::Filter filter{.stream_prefixes = {"task-"}, .event_types = {}};
  ASSERT_TRUE(registry
                  .Apply(Recorded(
                      internal::RegisteredEvent("wh_1", "https://a.example/h",
                                                filter, "sealed-1"),
                      5))
                  .ok());
  const internal::Endpoint* endpoint = registry.Find("wh_1");
  ASSERT_NE(endpoint, nullptr);
  EXPECT_EQ(endpoint->registered_position, 5u);
  EXPECT_EQ(endpoint->filter.stream_prefixes,
            std::vector<std::string>{"task-"});

  ASSERT_TRUE(registry
                  .Apply(Recorded(
                      internal::SecretRotatedEvent("wh_1", "sealed-2", 777), 6))
                  .ok());
  EXPECT_EQ(endpoint->secret_sealed, "sealed-2");
  EXPECT_EQ(endpoint->previous_secret_sealed, "sealed-1");

  internal::DeadLetter letter{.event_id = "e-9",
                              .position = 9,
                              .stream = "task-1",
                              .type = "TaskCreated",
                              .attempts = 8,
                              .last_status = 500,
                              .last_error = "HTTP 500"};
  ASSERT_TRUE(
      registry.Apply(Recorded(internal::DeadLetteredEvent("wh_1", letter), 10))
          .ok());
  // Dead-lettered again (after a crash): still one entry.
  ASSERT_TRUE(
      registry.Apply(Recorded(internal::DeadLetteredEvent("wh_1", letter), 11))
          .ok());
  ASSERT_EQ(endpoint->dead_letters.size(), 1u);
  EXPECT_FALSE(endpoint->dead_letters.at(9).redelivery_pending);
  ASSERT_TRUE(
      registry
          .Apply(Recorded(internal::RedeliveryRequestedEvent("wh_1", {9, 1234}),
                          12))
          .ok());
  EXPECT_TRUE(endpoint->dead_letters.at(9).redelivery_pending);
  ASSERT_TRUE(
      registry.Apply(Recorded(internal::RedeliveredEvent("wh_1", 9), 13)).ok());
  EXPECT_TRUE(endpoint->dead_letters.empty());

  ASSERT_TRUE(
      registry.Apply(Recorded(internal::DisabledEvent("wh_1", "410"), 14))
          .ok());
  EXPECT_TRUE(endpoint->disabled);
  ASSERT_TRUE(
      registry.Apply(Recorded(internal::EnabledEvent("wh_1"), 15)).ok());
  EXPECT_FALSE(endpoint->disabled);

  ASSERT_TRUE(
      registry.Apply(Recorded(internal::DeletedEvent("wh_1"), 16)).ok());
  EXPECT_EQ(registry.Find("wh_1"), nullptr);

  eventlog::RecordedEvent malformed = Recorded(internal::DeletedEvent("x"), 17);
  malformed.type = "WebhookRegistered";
  EXPECT_FALSE(registry.Apply(malformed).ok());
}

}  // namespace
}  // namespace vigil::webhooks
