// The folds against the shared fixtures of tests/fixtures/folds/*.json:
// given these events, expect these rows (as the REST reads and GET
// /v1/state render them). The dashboard's port of the folds reads the same
// files (gateway/dashboard/test/fold_fixtures.test.ts), so the two folds
// cannot drift apart.

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "eventlog/event.h"
#include "gtest/gtest.h"
#include "projections/state_at.h"
#include "projections/state_json.h"

namespace vigil::projections {
namespace {

namespace fs = std::filesystem;
using simdjson::dom::element;
using simdjson::dom::element_type;

std::vector<fs::path> Fixtures() {
  std::vector<fs::path> files;
  for (const fs::directory_entry& entry :
       fs::directory_iterator(VIGIL_SOURCE_DIR "/tests/fixtures/folds")) {
    if (entry.path().extension() == ".json") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

bool IsNumber(element e) {
  return e.type() == element_type::INT64 || e.type() == element_type::UINT64 ||
         e.type() == element_type::DOUBLE;
}

// The first difference between `want` and `got` (JSON values; object keys
// in any order, numbers by value), as "path: want X, got Y"; empty if none.
std::string Difference(const std::string& path, element want, element got) {
  const auto mismatch = [&] {
    return absl::StrCat(path, ": want ", simdjson::minify(want), ", got ",
                        simdjson::minify(got));
  };
  if (IsNumber(want) && IsNumber(got)) {
    const double w = double(want), g = double(got);
    return std::abs(w - g) <= 1e-9 * std::max(1.0, std::abs(w)) ? ""
                                                                 : mismatch();
  }
  if (want.type() != got.type()) return mismatch();
  switch (want.type()) {
    case element_type::OBJECT: {
      simdjson::dom::object w = want, g = got;
      if (w.size() != g.size()) return mismatch();
      for (auto [key, value] : w) {
        element other;
        if (g[key].get(other) != simdjson::SUCCESS) return mismatch();
        std::string d =
            Difference(absl::StrCat(path, ".", std::string(key)), value, other);
        if (!d.empty()) return d;
      }
      return "";
    }
    case element_type::ARRAY: {
      simdjson::dom::array w = want, g = got;
      if (w.size() != g.size()) return mismatch();
      for (size_t i = 0; i < w.size(); ++i) {
        std::string d = Difference(absl::StrCat(path, "[", i, "]"),
                                   w.at(i).value(), g.at(i).value());
        if (!d.empty()) return d;
      }
      return "";
    }
    default:
      return simdjson::minify(want) == simdjson::minify(got) ? "" : mismatch();
  }
}

// A list of rows as an object keyed by each row's `key` field, as the
// fixtures (and the dashboard's state) keep agents and tasks.
std::string KeyedBy(simdjson::dom::array rows, std::string_view key) {
  std::string out = "{";
  for (element row : rows) {
    if (out.size() > 1) out.push_back(',');
    absl::StrAppend(&out, "\"", std::string(std::string_view(row[key])),
                    "\":", simdjson::minify(row));
  }
  out.push_back('}');
  return out;
}

// The spans of a state, keyed by trace id and then span id, as the
// dashboard keeps them; {} when the state lists none.
std::string SpansByTrace(element state) {
  simdjson::dom::array spans;
  if (state["spans"].get(spans) != simdjson::SUCCESS) return "{}";
  std::string out = "{";
  std::string trace;
  for (element span : spans) {
    const std::string id = std::string(std::string_view(span["trace_id"]));
    if (id != trace) {
      absl::StrAppend(&out, trace.empty() ? "" : "},", "\"", id, "\":{");
      trace = id;
    } else {
      out.push_back(',');
    }
    absl::StrAppend(&out, "\"", std::string(std::string_view(span["span_id"])),
                    "\":", simdjson::minify(span));
  }
  absl::StrAppend(&out, trace.empty() ? "" : "}", "}");
  return out;
}

TEST(FoldFixturesTest, EveryFixtureGivesItsRows) {
  const std::vector<fs::path> files = Fixtures();
  ASSERT_GE(files.size(), 3u);
  for (const fs::path& file : files) {
    SCOPED_TRACE(file.filename().string());
    simdjson::dom::parser fixture_parser;
    element fixture;
    ASSERT_EQ(fixture_parser.load(file.string()).get(fixture),
              simdjson::SUCCESS);

    SystemState state;
    ReplayStats stats;
    for (element e : fixture["events"].get_array()) {
      eventlog::RecordedEvent event;
      event.position = uint64_t(e["position"]);
      event.recorded_time_us = int64_t(e["recorded_time_us"]);
      event.stream = std::string(std::string_view(e["stream"]));
      event.type = std::string(std::string_view(e["type"]));
      event.data = simdjson::minify(e["data"]);
      event.content_type = std::string(eventlog::kJsonContentType);
      state.Fold(event, &stats);
    }
    EXPECT_EQ(stats.skipped_events, 0u);

    const std::string rendered =
        SystemStateJson(state, stats, kMaxStateTasks);
    simdjson::dom::parser rendered_parser;
    element got;
    ASSERT_EQ(rendered_parser.parse(rendered).get(got), simdjson::SUCCESS);
    // The agents and tasks keyed by id; pairs and usage as listed; spans
    // by trace and span id.
    const std::string actual = absl::StrCat(
        "{\"agents\":", KeyedBy(got["agents"], "agent_id"),
        ",\"tasks\":", KeyedBy(got["tasks"], "task_id"),
        ",\"pairs\":", simdjson::minify(got["coordination"]["pairs"]),
        ",\"usage\":", simdjson::minify(got["usage"]),
        ",\"spans\":", SpansByTrace(got), "}");
    simdjson::dom::parser actual_parser;
    element want = fixture["expect"], have;
    ASSERT_EQ(actual_parser.parse(actual).get(have), simdjson::SUCCESS);
    EXPECT_EQ(Difference("expect", want, have), "")
        << "the folds give: " << actual;
  }
}

}  // namespace
}  // namespace vigil::projections
