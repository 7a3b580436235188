// The REST event reads on their own (gateway/internal/event_reads.h): the
// query of the two GETs and one bounded page of JSON, over a real log.

#include "gateway/internal/event_reads.h"

#include <simdjson.h>

#include <string>

#include "api/append_path.h"
#include "api/core.h"
#include "eventlog/event_log.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

namespace vigil::gateway::internal {
namespace {

TEST(ParsePagingTest, DefaultsBoundsAndRefusals) {
  absl::StatusOr<Paging> none = ParsePaging("", 100, 1000);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->from, 0u);
  EXPECT_EQ(none->limit, 100u);
  absl::StatusOr<Paging> both = ParsePaging("from=7&limit=1000", 100, 1000);
  ASSERT_TRUE(both.ok());
  EXPECT_EQ(both->from, 7u);
  EXPECT_EQ(both->limit, 1000u);
  for (const char* bad : {"limit=0", "limit=1001", "from=-1", "from=1&from=2",
                          "color=red", "from=%zz", "limit=1e3"}) {
    EXPECT_EQ(ParsePaging(bad, 100, 1000).status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

TEST(EventPagesTest, ReadsAStreamAndTheLogFromWhereAsked) {
  vigil::testing::TempDir dir;
  auto log = eventlog::EventLog::Open(eventlog::Options{}, dir.path());
  ASSERT_TRUE(log.ok()) << log.status();
  for (const char* stream : {"a", "b", "a", "a"}) {
    ASSERT_TRUE((*log)->Append({.stream = stream,
                                .events = {{.type = "T", .data = "{}"}}})
                    .ok());
  }
  // The pages read through the core, as the request handler calls them.
  api::AppendPath append_path(log->get(), {});
  const api::Core core({.log = log->get(), .append_path = &append_path});
  const api::Principal reader{.role = api::Role::kReader, .anonymous = false};
  simdjson::dom::parser parser;
  absl::StatusOr<std::string> stream =
      ReadStreamPage(core, reader, "a", Paging{.from = 1, .limit = 100});
  ASSERT_TRUE(stream.ok()) << stream.status();
  simdjson::dom::array events = parser.parse(*stream)["events"].get_array();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events.at(0)["revision"].get_uint64().value(), 1u);
  EXPECT_EQ(events.at(1)["position"].get_uint64().value(), 4u);

  absl::StatusOr<std::string> all =
      ReadAllPage(core, reader, Paging{.from = 2, .limit = 2});
  ASSERT_TRUE(all.ok()) << all.status();
  events = parser.parse(*all)["events"].get_array();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events.at(0)["position"].get_uint64().value(), 2u);
  EXPECT_EQ(events.at(1)["position"].get_uint64().value(), 3u);

  EXPECT_EQ(ReadStreamPage(core, reader, "missing", Paging{.limit = 1})
                .status()
                .code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace vigil::gateway::internal
