#include "eventlog/next_event.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/status_macros.h"
#include "eventlog/internal/uuid.h"

namespace vigil::eventlog {

absl::StatusOr<RecordedEvent> NextRecordedEvent(const EventLog& log,
                                                const std::string& stream,
                                                const EventData& event) {
  const uint64_t head = log.HeadPosition();
  std::string previous_hash = GenesisHash();
  int64_t previous_time_us = 0;
  if (head > 0) {
    ASSIGN_OR_RETURN(std::vector<RecordedEvent> last,
                     log.ReadAll(head, 1, Filter{}));
    if (last.empty() || last[0].position != head) {
      return absl::InternalError(
          absl::StrCat("the log has no event at its head position ", head));
    }
    previous_hash = last[0].hash;
    previous_time_us = last[0].recorded_time_us;
  }
  uint64_t revision = 0;
  absl::StatusOr<StreamInfo> info = log.GetStream(stream);
  if (info.ok()) {
    revision = info->last_revision + 1;
  } else if (!absl::IsNotFound(info.status())) {
    return info.status();
  }
  const int64_t now_us =
      std::max(absl::ToUnixMicros(absl::Now()), previous_time_us);
  RecordedEvent next{
      .event_id = event.event_id.empty() ? internal::NewUuidV7(now_us)
                                         : event.event_id,
      .stream = stream,
      .revision = revision,
      .position = head + 1,
      .type = event.type,
      .data = event.data,
      .content_type = event.content_type.empty() ? kJsonContentType
                                                 : event.content_type,
      .metadata = event.metadata,
      .recorded_time_us = now_us};
  next.hash = ChainedHash(previous_hash, next);
  return next;
}

}  // namespace vigil::eventlog
