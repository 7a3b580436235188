#include "gateway/internal/live_protocol.h"

#include <simdjson.h>

#include <utility>

#include "absl/time/time.h"
#include "api/event_json.h"
#include "base/json.h"
#include "api/event_proto.h"
#include "api/query_string.h"

namespace vigil::gateway::internal {
namespace {

std::vector<std::string> SplitCommas(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    const size_t end = comma == std::string::npos ? text.size() : comma;
    out.push_back(text.substr(start, end - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

}  // namespace

absl::Status CheckFilterList(std::string_view name,
                             const std::vector<std::string>& list) {
  if (list.size() > kMaxFilterEntries) {
    return absl::InvalidArgumentError(std::string(name) + ": at most " +
                                      std::to_string(kMaxFilterEntries) +
                                      " entries");
  }
  for (const std::string& entry : list) {
    if (entry.empty() || entry.size() > kMaxFilterEntryBytes) {
      return absl::InvalidArgumentError(
          std::string(name) + ": entries must be 1 to " +
          std::to_string(kMaxFilterEntryBytes) + " bytes");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<LiveQuery> ParseLiveQuery(std::string_view query) {
  LiveQuery out;
  bool seen_streams = false;
  bool seen_types = false;
  // The error for a malformed escape names no value: it may be the token.
  absl::StatusOr<std::vector<api::QueryParam>> params = api::SplitQuery(query);
  if (!params.ok()) return params.status();
  for (api::QueryParam& param : *params) {
    const std::string& name = param.name;
    std::string& value = param.value;
    if (name == "token") {
      if (out.token.has_value()) {
        return absl::InvalidArgumentError("query parameter token given twice");
      }
      out.token = std::move(value);
      continue;
    }
    if (name == "from") {
      uint64_t from = 0;
      if (out.from.has_value() || !api::ParseDecimal(param.literal, &from)) {
        return absl::InvalidArgumentError(
            "from must be given once, as a non-negative decimal position");
      }
      out.from = from;
    } else if (name == "from_time") {
      absl::Time time;
      std::string error;
      if (out.from_time_us.has_value() ||
          !absl::ParseTime(absl::RFC3339_full, param.literal, &time,
                           &error)) {
        return absl::InvalidArgumentError(
            "from_time must be given once, as an RFC 3339 time such as "
            "2026-01-02T03:04:05Z");
      }
      out.from_time_us = absl::ToUnixMicros(time);
    } else if (name == "streams" || name == "types") {
      bool& seen = name == "streams" ? seen_streams : seen_types;
      if (seen) {
        return absl::InvalidArgumentError(name + " given twice");
      }
      seen = true;
      std::vector<std::string> list = SplitCommas(value);
      if (absl::Status status = CheckFilterList(name, list); !status.ok()) {
        return status;
      }
      (name == "streams" ? out.filter.stream_prefixes
                          : out.filter.event_types) = std::move(list);
    } else {
      return absl::InvalidArgumentError(
          "unknown query parameter \"" + name.substr(0, 64) +
          "\" (expected from, from_time, streams, types, token)");
    }
  }
  if (out.from.has_value() && out.from_time_us.has_value()) {
    return absl::InvalidArgumentError("give from or from_time, not both");
  }
  return out;
}

absl::StatusOr<ClientMessage> ParseClientMessage(std::string_view text) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::object object;
  if (parser.parse(text.data(), text.size(), true).get(object) !=
      simdjson::SUCCESS) {
    return absl::InvalidArgumentError(
        "messages must be JSON objects: {\"op\":\"ping\"} or "
        "{\"op\":\"filter\",\"streams\":[...],\"types\":[...]}");
  }
  std::string_view op;
  if (object["op"].get(op) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("\"op\" (a string) is required");
  }
  ClientMessage message;
  if (op == "ping") {
    message.op = ClientMessage::Op::kPing;
    return message;
  }
  if (op != "filter") {
    return absl::InvalidArgumentError("unknown op \"" +
                                      std::string(op.substr(0, 32)) +
                                      "\" (expected ping or filter)");
  }
  message.op = ClientMessage::Op::kFilter;
  eventlog::Filter& filter = message.filter;
  for (auto [key, value] : object) {
    std::vector<std::string>* list = nullptr;
    if (key == "streams") {
      list = &filter.stream_prefixes;
    } else if (key == "types") {
      list = &filter.event_types;
    } else if (key == "op") {
      continue;
    } else {
      return absl::InvalidArgumentError("unknown field \"" +
                                        std::string(key.substr(0, 32)) +
                                        "\" (expected op, streams, types)");
    }
    simdjson::dom::array array;
    bool ok = value.get(array) == simdjson::SUCCESS;
    if (ok) {
      for (simdjson::dom::element item : array) {
        std::string_view entry;
        if (item.get(entry) != simdjson::SUCCESS) {
          ok = false;
          break;
        }
        list->emplace_back(entry);
      }
    }
    if (!ok) {
      return absl::InvalidArgumentError(std::string(key) +
                                        " must be an array of strings");
    }
  }
  for (const auto& [name, list] :
       {std::pair<std::string_view, const std::vector<std::string>*>{
            "streams", &filter.stream_prefixes},
        {"types", &filter.event_types}}) {
    if (absl::Status status = CheckFilterList(name, *list); !status.ok()) {
      return status;
    }
  }
  return message;
}

std::string PositionJson(std::string_view kind, uint64_t position) {
  return base::DumpJson({{"kind", kind}, {"position", position}});
}

std::string ErrorJson(std::string_view message) {
  return base::DumpJson({{"kind", "error"}, {"message", message}});
}

// The hot path: the event's JSON (api::RecordedEventToJson, the one
// writer's exception, base/json.h) with "kind" put in front, not re-parsed.
std::string EventJson(const eventlog::RecordedEvent& event) {
  std::string json = api::RecordedEventToJson(event);
  std::string out = "{\"kind\":\"event\",";
  out.append(json, 1, std::string::npos);
  return out;
}

std::string EventProtobuf(const eventlog::RecordedEvent& event) {
  vigil::v1::RecordedEvent proto;
  api::ToProto(event, &proto);
  return proto.SerializeAsString();
}

std::string SseRecord(std::string_view event, uint64_t id,
                      std::string_view data) {
  std::string out;
  if (id != 0) out.append("id: ").append(std::to_string(id)).push_back('\n');
  if (!event.empty()) out.append("event: ").append(event).push_back('\n');
  out.append("data: ").append(data).append("\n\n");
  return out;
}

std::shared_ptr<const std::string> Share(std::string text) {
  return std::make_shared<const std::string>(std::move(text));
}

LiveFrame EventFrame(const eventlog::RecordedEvent& event, LiveFormat format) {
  std::string payload;
  bool binary = false;
  switch (format) {
    case LiveFormat::kJson:
      payload = EventJson(event);
      break;
    case LiveFormat::kProtobuf:
      payload = EventProtobuf(event);
      binary = true;
      break;
    case LiveFormat::kSse:
      payload = SseRecord("", event.position, EventJson(event));
      break;
  }
  return LiveFrame{Share(std::move(payload)), binary, event.position};
}

LiveFrame ControlFrame(LiveFormat format, std::string_view kind,
                       uint64_t position) {
  std::string json = PositionJson(kind, position);
  if (format == LiveFormat::kSse) json = SseRecord(kind, position, json);
  return LiveFrame{Share(std::move(json)), false, 0};
}

LiveFrame FilterAckFrame(LiveFormat format, uint64_t position) {
  std::string ack = PositionJson("filter", position);
  if (format == LiveFormat::kSse) ack = SseRecord("filter", 0, ack);
  return LiveFrame{Share(std::move(ack)), false, 0};
}

LiveFrame ReplyFrame(LiveFormat format, std::string json) {
  if (format == LiveFormat::kSse) json = SseRecord("error", 0, json);
  return LiveFrame{Share(std::move(json)), false, 0};
}

bool IsCaughtUpFrame(const LiveFrame& frame) {
  return frame.position == 0 &&
         frame.payload->find("\"caught_up\"") != std::string::npos;
}

size_t WebSocketFrameHeader(size_t payload_bytes, bool binary,
                            uint8_t out[kMaxWebSocketHeaderBytes]) {
  constexpr uint8_t kFin = 0x80;
  constexpr uint8_t kText = 0x1;
  constexpr uint8_t kBinary = 0x2;
  out[0] = kFin | (binary ? kBinary : kText);
  if (payload_bytes < 126) {
    out[1] = static_cast<uint8_t>(payload_bytes);
    return 2;
  }
  if (payload_bytes <= 0xFFFF) {
    out[1] = 126;
    out[2] = static_cast<uint8_t>(payload_bytes >> 8);
    out[3] = static_cast<uint8_t>(payload_bytes);
    return 4;
  }
  out[1] = 127;
  const uint64_t length = payload_bytes;
  for (int i = 0; i < 8; ++i) {
    out[2 + i] = static_cast<uint8_t>(length >> (8 * (7 - i)));
  }
  return kMaxWebSocketHeaderBytes;
}

size_t WebSocketHeaderBytes(uint8_t second_byte) {
  const uint8_t length = second_byte & 0x7f;
  const size_t extended = length == 126 ? 2 : length == 127 ? 8 : 0;
  return 2 + extended + ((second_byte & 0x80) != 0 ? 4 : 0);
}

uint64_t WebSocketPayloadBytes(const uint8_t* header) {
  const uint8_t length = header[1] & 0x7f;
  if (length < 126) return length;
  const int bytes = length == 126 ? 2 : 8;
  uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) value = (value << 8) | header[2 + i];
  return value;
}

ControlScan ScanClientControlFrame(std::string_view bytes,
                                   ClientControlFrame* frame) {
  constexpr uint8_t kFin = 0x80;
  constexpr uint8_t kReserved = 0x70;
  constexpr uint8_t kPing = 0x9;
  constexpr uint8_t kPong = 0xa;
  constexpr uint8_t kMasked = 0x80;
  constexpr size_t kMaxControlPayload = 125;
  if (bytes.empty()) return ControlScan::kPartial;
  const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
  const uint8_t opcode = data[0] & 0x0f;
  if ((opcode != kPing && opcode != kPong) || (data[0] & kFin) == 0 ||
      (data[0] & kReserved) != 0) {
    return ControlScan::kOther;
  }
  if (bytes.size() < 2) return ControlScan::kPartial;
  const size_t length = data[1] & 0x7f;
  if ((data[1] & kMasked) == 0 || length > kMaxControlPayload) {
    return ControlScan::kOther;
  }
  const size_t header = 2 + 4;
  if (bytes.size() < header + length) return ControlScan::kPartial;
  frame->ping = opcode == kPing;
  frame->frame_bytes = header + length;
  frame->payload.resize(length);
  for (size_t i = 0; i < length; ++i) {
    frame->payload[i] = static_cast<char>(data[header + i] ^ data[2 + i % 4]);
  }
  return ControlScan::kFrame;
}

}  // namespace vigil::gateway::internal
