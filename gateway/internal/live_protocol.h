// The live feed's wire protocol (GET /v1/live and /v1/live/sse), apart from
// the hub that follows the log: the query of the request, the messages a
// client may send, and the bytes of every frame the server writes (events
// as JSON, protobuf or Server-Sent Events records; the control frames
// caught_up, checkpoint, filter, pong and error). Pure functions: no state,
// no I/O; safe from any thread.

#ifndef VIGIL_GATEWAY_INTERNAL_LIVE_PROTOCOL_H_
#define VIGIL_GATEWAY_INTERNAL_LIVE_PROTOCOL_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "eventlog/event_log.h"

namespace vigil::gateway::internal {

// The WebSocket subprotocol that asks for binary frames, each the
// serialized vigil.v1.RecordedEvent of one event.
inline constexpr char kProtobufSubprotocol[] = "vigil.v1.protobuf";

// A filter sent by a client, or in the query: entries per list, and bytes
// per entry.
inline constexpr size_t kMaxFilterEntries = 100;
inline constexpr size_t kMaxFilterEntryBytes = 200;

// The form of a subscription's frames.
enum class LiveFormat {
  kJson,      // text frames, JSON objects with "kind"
  kProtobuf,  // events as binary RecordedEvent frames, the rest as kJson
  kSse,       // Server-Sent Events records ("id:", "event:", "data:")
};

// One frame to write. Event frames of the live feed are shared by every
// connection that writes them.
struct LiveFrame {
  std::shared_ptr<const std::string> payload;
  bool binary = false;
  uint64_t position = 0;  // the event's; 0 for the other kinds
};

// What a client asked for in the query of GET /v1/live.
struct LiveQuery {
  std::optional<uint64_t> from;         // deliver positions > from
  std::optional<int64_t> from_time_us;  // deliver events recorded >= it
  eventlog::Filter filter;
  std::optional<std::string> token;  // ?token=, never logged
};

// Parses `query` (the part after "?", still percent-encoded): `from`,
// `from_time` (RFC 3339), `streams` and `types` (comma-separated), `token`.
// INVALID_ARGUMENT for an unknown, repeated or malformed parameter, or
// both from and from_time. The error never contains the token.
absl::StatusOr<LiveQuery> ParseLiveQuery(std::string_view query);

// INVALID_ARGUMENT ("<name>: ...") when `list` has more than
// kMaxFilterEntries entries or an entry that is empty or longer than
// kMaxFilterEntryBytes.
absl::Status CheckFilterList(std::string_view name,
                             const std::vector<std::string>& list);

// A text message from a WebSocket client.
struct ClientMessage {
  enum class Op { kPing, kFilter };
  Op op = Op::kPing;
  eventlog::Filter filter;  // for kFilter: the new filter (may be empty)
};

// Parses {"op":"ping"} or {"op":"filter","streams":[...],"types":[...]}.
// INVALID_ARGUMENT, with the message to send back in an error frame, for
// anything else (not a JSON object, no "op", an unknown op or field, a list
// that is not strings or fails CheckFilterList).
absl::StatusOr<ClientMessage> ParseClientMessage(std::string_view text);

// {"kind":"<kind>","position":<position>}: caught_up, checkpoint, filter.
std::string PositionJson(std::string_view kind, uint64_t position);
// {"kind":"error","message":"<message>"}.
std::string ErrorJson(std::string_view message);
// The reply to a ping.
inline constexpr char kPongJson[] = R"({"kind":"pong"})";
// {"kind":"event", ...the event's JSON}.
std::string EventJson(const eventlog::RecordedEvent& event);
// The serialized vigil.v1.RecordedEvent of `event`.
std::string EventProtobuf(const eventlog::RecordedEvent& event);
// One Server-Sent Events record; `id` 0 = none, `event` "" = none. `data`
// is one line.
std::string SseRecord(std::string_view event, uint64_t id,
                      std::string_view data);

// `text` behind a shared_ptr, as frames hold it.
std::shared_ptr<const std::string> Share(std::string text);

// The frame of one event read from the log, in `format`.
LiveFrame EventFrame(const eventlog::RecordedEvent& event, LiveFormat format);
// A caught_up or checkpoint frame (`kind`) in `format`. `position` also
// becomes the SSE id, so Last-Event-ID resumes after it.
LiveFrame ControlFrame(LiveFormat format, std::string_view kind,
                       uint64_t position);
// The acknowledgement of a new filter: events after `position` are chosen
// by it. As SSE, a record without an id.
LiveFrame FilterAckFrame(LiveFormat format, uint64_t position);
// A reply to a client message (`json`: pong or error) in `format`.
LiveFrame ReplyFrame(LiveFormat format, std::string json);
// True for a frame made by ControlFrame(..., "caught_up", ...).
bool IsCaughtUpFrame(const LiveFrame& frame);

// The most bytes WebSocketFrameHeader writes.
inline constexpr size_t kMaxWebSocketHeaderBytes = 10;
// Writes into `out` the header of one whole, unmasked (server-to-client)
// WebSocket message of `payload_bytes` (RFC 6455 5.2: FIN, opcode text or
// binary, 7-, 16- or 64-bit length) and returns its size, 2 to
// kMaxWebSocketHeaderBytes.
size_t WebSocketFrameHeader(size_t payload_bytes, bool binary,
                            uint8_t out[kMaxWebSocketHeaderBytes]);

// The size of a frame header (RFC 6455 5.2) whose second byte is
// `second_byte`: 2, plus 2 or 8 for an extended length, plus 4 for a mask;
// at most 14.
size_t WebSocketHeaderBytes(uint8_t second_byte);
// The payload length in `header`. REQUIRES: `header` holds
// WebSocketHeaderBytes(header[1]) bytes.
uint64_t WebSocketPayloadBytes(const uint8_t* header);

// A ping or pong from a client, read off the socket by the server itself
// (live_socket.h): the frame's size and its unmasked payload.
struct ClientControlFrame {
  bool ping = false;  // else a pong
  size_t frame_bytes = 0;
  std::string payload;
};
enum class ControlScan {
  kFrame,    // `bytes` starts with a whole ping or pong: in *frame
  kPartial,  // `bytes` starts with part of one
  kOther,    // anything else, or a ping or pong that breaks RFC 6455
             // (unmasked, fragmented, reserved bits, over 125 bytes)
};
// Looks at the start of `bytes`, what a client sent.
ControlScan ScanClientControlFrame(std::string_view bytes,
                                   ClientControlFrame* frame);

}  // namespace vigil::gateway::internal

#endif  // VIGIL_GATEWAY_INTERNAL_LIVE_PROTOCOL_H_
