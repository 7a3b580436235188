// /v1/webhooks as HTTP (gateway/internal/webhook_routes.h): methods per
// path, status codes, the registration body, against a fake WebhookAdmin.
// The real service is tested end to end in
// tests/projections/webhooks/webhook_delivery_test.cc.

#include "gateway/internal/webhook_routes.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::gateway::internal {
namespace {

using ::testing::HasSubstr;

// Answers each call with its name and arguments, so the test sees which.
class FakeAdmin : public api::WebhookAdmin {
 public:
  absl::StatusOr<std::string> Register(
      const api::WebhookRegistration& r) override {
    registered = r;
    return "register " + r.url;
  }
  absl::StatusOr<std::string> List() override { return "list"; }
  absl::StatusOr<std::string> Get(const std::string& id) override {
    if (id == "missing") return absl::NotFoundError("no webhook missing");
    return "get " + id;
  }
  absl::StatusOr<std::string> Delete(const std::string& id) override {
    return "delete " + id;
  }
  absl::StatusOr<std::string> RotateSecret(const std::string& id) override {
    return "rotate " + id;
  }
  absl::StatusOr<std::string> Enable(const std::string& id) override {
    return "enable " + id;
  }
  absl::StatusOr<std::string> DeadLetters(const std::string& id) override {
    return "dead-letters " + id;
  }
  absl::StatusOr<std::string> Redeliver(
      const std::string& id,
      const std::optional<std::string>& event_id) override {
    return "redeliver " + id + " " + event_id.value_or("all");
  }

  std::optional<api::WebhookRegistration> registered;
};

TEST(WebhookRoutesTest, MethodsPerPath) {
  EXPECT_EQ(WebhookMethods("/v1/webhooks"), "GET, POST");
  EXPECT_EQ(WebhookMethods("/v1/webhooks/wh_1"), "GET, DELETE");
  EXPECT_EQ(WebhookMethods("/v1/webhooks/wh_1/rotate-secret"), "POST");
  EXPECT_EQ(WebhookMethods("/v1/webhooks/wh_1/enable"), "POST");
  EXPECT_EQ(WebhookMethods("/v1/webhooks/wh_1/dead-letters"), "GET");
  EXPECT_EQ(WebhookMethods("/v1/webhooks/wh_1/dead-letters/redeliver"),
            "POST");
  EXPECT_EQ(WebhookMethods("/v1/webhooks/wh_1/dead-letters/e1/redeliver"),
            "POST");
  for (const char* path :
       {"/v1/webhook", "/v1/webhooksx", "/v1/webhooks/", "/v1/webhooks//x",
        "/v1/webhooks/wh_1/other", "/v1/webhooks/wh_1/dead-letters/e1",
        "/v1/webhooks/a/b/c/d/e"}) {
    EXPECT_EQ(WebhookMethods(path), "") << path;
  }
}

TEST(WebhookRoutesTest, EachRouteItsCallAndStatus) {
  FakeAdmin admin;
  const struct {
    const char* method;
    const char* path;
    int status;
    const char* body;
  } kCases[] = {
      {"GET", "/v1/webhooks", 200, "list"},
      {"GET", "/v1/webhooks/wh_1", 200, "get wh_1"},
      {"DELETE", "/v1/webhooks/wh_1", 200, "delete wh_1"},
      {"POST", "/v1/webhooks/wh_1/rotate-secret", 200, "rotate wh_1"},
      {"POST", "/v1/webhooks/wh_1/enable", 200, "enable wh_1"},
      {"GET", "/v1/webhooks/wh_1/dead-letters", 200, "dead-letters wh_1"},
      {"POST", "/v1/webhooks/wh_1/dead-letters/redeliver", 202,
       "redeliver wh_1 all"},
      {"POST", "/v1/webhooks/wh_1/dead-letters/e1/redeliver", 202,
       "redeliver wh_1 e1"},
  };
  for (const auto& c : kCases) {
    absl::StatusOr<WebhookAnswer> answer =
        ServeWebhooks(admin, c.method, c.path, "");
    ASSERT_TRUE(answer.ok()) << c.path << ": " << answer.status();
    EXPECT_EQ(answer->status, c.status) << c.method << " " << c.path;
    EXPECT_EQ(answer->body, c.body) << c.method << " " << c.path;
  }
  EXPECT_EQ(ServeWebhooks(admin, "GET", "/v1/webhooks/missing", "")
                .status()
                .code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(ServeWebhooks(admin, "GET", "/v1/webhooks/a/b", "").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(WebhookRoutesTest, RegistrationBody) {
  FakeAdmin admin;
  absl::StatusOr<WebhookAnswer> created = ServeWebhooks(
      admin, "POST", "/v1/webhooks",
      R"({"url":"https://example.com/h","filter":{"stream_prefixes":["a-"],)"
      R"("event_types":["X","Y"]}})");
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->status, 201);
  ASSERT_TRUE(admin.registered.has_value());
  EXPECT_EQ(admin.registered->url, "https://example.com/h");
  EXPECT_EQ(admin.registered->filter.stream_prefixes,
            std::vector<std::string>{"a-"});
  EXPECT_EQ(admin.registered->filter.event_types,
            (std::vector<std::string>{"X", "Y"}));
  EXPECT_TRUE(ServeWebhooks(admin, "POST", "/v1/webhooks",
                            R"({"url":"https://e.com","filter":null})")
                  .ok());

  static constexpr struct {
    const char* body;
    const char* names;
  } kBad[] = {
      {"", "JSON object"},
      {"[]", "JSON object"},
      {R"({"filter":{}})", "url"},
      {R"({"url":5})", "url"},
      {R"({"url":"https://e.com","x":1})", "x"},
      {R"({"url":"https://e.com","filter":[]})", "filter"},
      {R"({"url":"https://e.com","filter":{"types":[]}})", "types"},
      {R"({"url":"https://e.com","filter":{"event_types":"X"}})",
       "event_types"},
      {R"({"url":"https://e.com","filter":{"event_types":[1]}})",
       "event_types"},
  };
  for (const auto& c : kBad) {
    absl::StatusOr<WebhookAnswer> answer =
        ServeWebhooks(admin, "POST", "/v1/webhooks", c.body);
    EXPECT_EQ(answer.status().code(), absl::StatusCode::kInvalidArgument)
        << c.body;
    EXPECT_THAT(answer.status().message(), HasSubstr(c.names)) << c.body;
  }
}

}  // namespace
}  // namespace vigil::gateway::internal
