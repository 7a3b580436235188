#include "gateway/internal/event_reads.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "api/event_json.h"
#include "api/query_string.h"

namespace vigil::gateway::internal {
namespace {

// Reads one page of events with `read_chunk(from, count)`, `kReadChunkEvents`
// at a time, until `limit` events, the end, or kMaxPageBytes of JSON.
// `next` gives where the chunk after an event starts.
// The events' JSON is spliced in as api::RecordedEventToJson writes it (the
// one writer's exception, base/json.h: a page is up to kMaxPageBytes of
// event JSON, not worth a tree).
template <typename ReadChunk, typename Next>
absl::StatusOr<std::string> ReadPage(uint64_t from, uint64_t limit,
                                     ReadChunk read_chunk, Next next) {
  std::string body = "{\"events\":[";
  uint64_t count = 0;
  while (count < limit && body.size() < kMaxPageBytes) {
    const uint64_t want = std::min(kReadChunkEvents, limit - count);
    absl::StatusOr<std::vector<eventlog::RecordedEvent>> chunk =
        read_chunk(from, want);
    if (!chunk.ok()) return chunk.status();
    for (const eventlog::RecordedEvent& event : *chunk) {
      if (count > 0 && body.size() >= kMaxPageBytes) break;
      if (count > 0) body.push_back(',');
      body.append(api::RecordedEventToJson(event));
      ++count;
      from = next(event);
    }
    if (chunk->size() < want) break;  // the end of the stream or log
  }
  body.append("]}");
  return body;
}

}  // namespace

absl::StatusOr<Paging> ParsePaging(std::string_view query,
                                   uint64_t default_limit, uint64_t max_limit) {
  Paging paging{.from = 0, .limit = default_limit};
  bool seen_from = false;
  bool seen_limit = false;
  absl::StatusOr<std::vector<api::QueryParam>> params = api::SplitQuery(query);
  if (!params.ok()) return params.status();
  for (const api::QueryParam& param : *params) {
    const std::string& name = param.name;
    const std::string& value = param.literal;  // a number
    bool* seen = name == "from"    ? &seen_from
                 : name == "limit" ? &seen_limit
                                    : nullptr;
    if (seen == nullptr) {
      return absl::InvalidArgumentError(
          "unknown query parameter \"" + name + "\" (expected from, limit)");
    }
    if (*seen) {
      return absl::InvalidArgumentError("query parameter " + name +
                                        " given twice");
    }
    *seen = true;
    uint64_t number = 0;
    if (!api::ParseDecimal(value, &number)) {
      return absl::InvalidArgumentError(
          name + " must be a non-negative decimal integer, not \"" + value +
          "\"");
    }
    if (name == "from") {
      paging.from = number;
    } else {
      if (number == 0 || number > max_limit) {
        return absl::InvalidArgumentError("limit must be between 1 and " +
                                          std::to_string(max_limit));
      }
      paging.limit = number;
    }
  }
  return paging;
}

absl::StatusOr<std::string> ReadStreamPage(const api::Core& core,
                                           const api::Principal& principal,
                                           const std::string& stream,
                                           const Paging& paging) {
  return ReadPage(
      paging.from, paging.limit,
      [&](uint64_t from, uint64_t count) {
        return core.ReadStream(principal, {.stream = stream,
                                           .from_revision = from,
                                           .max_count = count});
      },
      [](const eventlog::RecordedEvent& e) { return e.revision + 1; });
}

absl::StatusOr<std::string> ReadAllPage(const api::Core& core,
                                        const api::Principal& principal,
                                        const Paging& paging) {
  absl::StatusOr<eventlog::LogCursor> cursor =
      core.ReadAll(principal, {.from_position = paging.from});
  if (!cursor.ok()) return cursor.status();
  return ReadPage(
      paging.from, paging.limit,
      // The cursor knows where it stands: `from` is where ReadPage thinks
      // it does, the same position.
      [&](uint64_t /*from*/, uint64_t count)
          -> absl::StatusOr<std::vector<eventlog::RecordedEvent>> {
        absl::StatusOr<eventlog::CursorPage> page = cursor->Next(count);
        if (!page.ok()) return page.status();
        return std::move(page->events);
      },
      [](const eventlog::RecordedEvent& e) { return e.position + 1; });
}

}  // namespace vigil::gateway::internal
