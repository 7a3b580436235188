// The headers of a mirrored event's NATS message (docs/replication.md
// "Messages"): every field of the recorded event and its chain hash, so a
// reader of the JetStream stream can rebuild the event exactly and check
// the hash chain with eventlog::ChainedHash. The message's body is the
// event's data, byte for byte. Besides these, the mirror sets JetStream's
// own Nats-Msg-Id (the position and hash), Nats-Expected-Last-Sequence
// (position - 1) and Nats-Expected-Last-Msg-Id (internal/jetstream.h). Header values are single-line ASCII: the metadata, which
// is JSON and may hold line breaks, travels base64-encoded. Pure functions,
// safe from any thread.

#ifndef VIGIL_REPLICATION_EVENT_HEADERS_H_
#define VIGIL_REPLICATION_EVENT_HEADERS_H_

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "eventlog/event.h"

namespace vigil::replication {

inline constexpr char kPositionHeader[] = "Vigil-Position";
inline constexpr char kStreamHeader[] = "Vigil-Stream";
inline constexpr char kRevisionHeader[] = "Vigil-Revision";
inline constexpr char kEventIdHeader[] = "Vigil-Event-Id";
inline constexpr char kTypeHeader[] = "Vigil-Type";
inline constexpr char kContentTypeHeader[] = "Vigil-Content-Type";
inline constexpr char kMetadataHeader[] = "Vigil-Metadata-Base64";
inline constexpr char kRecordedTimeHeader[] = "Vigil-Recorded-Time-Us";
// The event's chain hash, 64 lowercase hex digits.
inline constexpr char kHashHeader[] = "Vigil-Hash";

using Header = std::pair<std::string, std::string>;

// The headers of `event`'s message (the metadata header only when it has
// metadata), in a fixed order.
std::vector<Header> EventHeaders(const eventlog::RecordedEvent& event);

// The event a message holds: `header` answers a header's value (nullopt
// when absent), `data` is the body. INVALID_ARGUMENT naming the header
// when one is missing or malformed.
absl::StatusOr<eventlog::RecordedEvent> EventOfMessage(
    const std::function<std::optional<std::string>(std::string_view name)>&
        header,
    std::string_view data);

// The hash as the headers carry it.
std::string HashHex(std::string_view hash);

}  // namespace vigil::replication

#endif  // VIGIL_REPLICATION_EVENT_HEADERS_H_
