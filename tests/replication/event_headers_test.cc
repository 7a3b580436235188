// An event as message headers and back (replication/event_headers.h).

#include "replication/event_headers.h"

#include <map>
#include <optional>
#include <string>

#include "gtest/gtest.h"

namespace vigil::replication {
namespace {

eventlog::RecordedEvent Sample() {
  eventlog::RecordedEvent event;
  event.event_id = "0190b1c2-0000-7000-8000-000000000001";
  event.stream = "orders.eu";
  event.revision = 4;
  event.position = 17;
  event.type = "OrderPlaced";
  event.data = std::string("{\"a\":1}\0binary", 14);
  event.content_type = "application/octet-stream";
  event.metadata = "{\n  \"trace\": \"x\"\n}";  // line breaks
  event.recorded_time_us = 1733370000123456;
  event.hash = std::string(32, '\xab');
  return event;
}

std::optional<std::string> Lookup(const std::map<std::string, std::string>& m,
                                  std::string_view name) {
  auto it = m.find(std::string(name));
  if (it == m.end()) return std::nullopt;
  return it->second;
}

TEST(EventHeadersTest, RoundTripsEveryField) {
  const eventlog::RecordedEvent event = Sample();
  std::map<std::string, std::string> headers;
  for (const Header& header : EventHeaders(event)) {
    EXPECT_EQ(header.second.find_first_of("\r\n"), std::string::npos)
        << header.first;
    headers.insert(header);
  }
  std::string hex;
  for (int i = 0; i < 32; ++i) hex += "ab";
  EXPECT_EQ(headers[kHashHeader], hex);
  EXPECT_EQ(headers[kPositionHeader], "17");
  absl::StatusOr<eventlog::RecordedEvent> back = EventOfMessage(
      [&](std::string_view name) { return Lookup(headers, name); },
      event.data);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, event);
}

TEST(EventHeadersTest, RefusesAMissingOrMalformedHeader) {
  const eventlog::RecordedEvent event = Sample();
  std::map<std::string, std::string> good;
  for (const Header& header : EventHeaders(event)) good.insert(header);
  for (const auto& [name, bad] :
       std::map<std::string, std::optional<std::string>>{
           {kPositionHeader, "x1"},
           {kRevisionHeader, std::nullopt},
           {kStreamHeader, std::nullopt},
           {kHashHeader, "ABCD"},
           {kRecordedTimeHeader, ""},
           {kMetadataHeader, "not base64!"}}) {
    std::map<std::string, std::string> headers = good;
    if (bad.has_value()) {
      headers[name] = *bad;
    } else {
      headers.erase(name);
    }
    absl::StatusOr<eventlog::RecordedEvent> back = EventOfMessage(
        [&](std::string_view key) { return Lookup(headers, key); }, "");
    ASSERT_FALSE(back.ok()) << name;
    EXPECT_NE(back.status().message().find(name), std::string::npos)
        << back.status();
  }
}

}  // namespace
}  // namespace vigil::replication
