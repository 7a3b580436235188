#include "otlp/span_recorded.h"

#include <charconv>
#include <cmath>
#include <cstdint>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "base/json.h"
#include "base/sha256.h"
#include "base/status_macros.h"
#include "otlp/genai_conventions.h"

namespace vigil::otlp {
namespace {

using opentelemetry::proto::common::v1::AnyValue;
using opentelemetry::proto::common::v1::KeyValue;
using opentelemetry::proto::trace::v1::Span;
using opentelemetry::proto::trace::v1::Status;
using Attributes = google::protobuf::RepeatedPtrField<KeyValue>;

bool AllZero(std::string_view bytes) {
  for (char c : bytes) {
    if (c != 0) return false;
  }
  return true;
}

// Shortest text that reads back as `value`. REQUIRES: finite.
void AppendDouble(double value, std::string* out) {
  char buffer[32];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  out->append(buffer, end);
}

void AppendKey(std::string_view key, std::string* out) {
  base::AppendJsonString(key, out);
  out->push_back(':');
}

absl::Status AppendValue(const AnyValue& value, const SpanLimits& limits,
                         int depth, std::string* out);

// Of two equal keys the first is kept: JSON objects have unique names.
absl::Status AppendObject(const Attributes& attributes,
                          const SpanLimits& limits, int depth,
                          std::string* out) {
  if (static_cast<size_t>(attributes.size()) > limits.max_attributes) {
    return absl::InvalidArgumentError(
        absl::StrCat(attributes.size(), " attributes, over the limit of ",
                     limits.max_attributes));
  }
  absl::flat_hash_set<std::string_view> seen;
  const bool small = attributes.size() <= 16;
  out->push_back('{');
  bool first = true;
  for (int i = 0; i < attributes.size(); ++i) {
    const std::string& key = attributes[i].key();
    bool duplicate = false;
    if (small) {
      for (int j = 0; j < i && !duplicate; ++j) {
        duplicate = attributes[j].key() == key;
      }
    } else {
      duplicate = !seen.insert(key).second;
    }
    if (duplicate) continue;
    if (!first) out->push_back(',');
    first = false;
    AppendKey(key, out);
    RETURN_IF_ERROR(AppendValue(attributes[i].value(), limits, depth, out));
  }
  out->push_back('}');
  return absl::OkStatus();
}

absl::Status AppendValue(const AnyValue& value, const SpanLimits& limits,
                         int depth, std::string* out) {
  switch (value.value_case()) {
    case AnyValue::kStringValue:
      base::AppendJsonString(value.string_value(), out);
      break;
    case AnyValue::kBoolValue:
      out->append(value.bool_value() ? "true" : "false");
      break;
    case AnyValue::kIntValue: {
      // JSON readers hold numbers as doubles: past 2^53 they would round.
      constexpr int64_t kExact = int64_t{1} << 53;
      const int64_t n = value.int_value();
      if (n > kExact || n < -kExact) {
        absl::StrAppend(out, "\"", n, "\"");
      } else {
        absl::StrAppend(out, n);
      }
      break;
    }
    case AnyValue::kDoubleValue: {
      const double d = value.double_value();
      if (std::isnan(d)) {
        out->append("\"NaN\"");
      } else if (std::isinf(d)) {
        out->append(d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
      } else {
        AppendDouble(d, out);
      }
      break;
    }
    case AnyValue::kArrayValue: {
      if (depth >= limits.max_value_depth) {
        return absl::InvalidArgumentError(absl::StrCat(
            "attribute values nest deeper than ", limits.max_value_depth));
      }
      const auto& values = value.array_value().values();
      if (static_cast<size_t>(values.size()) > limits.max_attributes) {
        return absl::InvalidArgumentError(
            absl::StrCat("an array attribute has ", values.size(),
                         " values, over the limit of ", limits.max_attributes));
      }
      out->push_back('[');
      for (int i = 0; i < values.size(); ++i) {
        if (i > 0) out->push_back(',');
        RETURN_IF_ERROR(AppendValue(values[i], limits, depth + 1, out));
      }
      out->push_back(']');
      break;
    }
    case AnyValue::kKvlistValue:
      if (depth >= limits.max_value_depth) {
        return absl::InvalidArgumentError(absl::StrCat(
            "attribute values nest deeper than ", limits.max_value_depth));
      }
      return AppendObject(value.kvlist_value().values(), limits, depth + 1,
                          out);
    case AnyValue::kBytesValue:
      out->push_back('"');
      out->append(absl::Base64Escape(value.bytes_value()));
      out->push_back('"');
      break;
    case AnyValue::VALUE_NOT_SET:
      out->append("null");
      break;
  }
  return absl::OkStatus();
}

void AppendStringField(std::string_view name, std::string_view value,
                       std::string* out) {
  if (value.empty()) return;
  out->push_back(',');
  AppendKey(name, out);
  base::AppendJsonString(value, out);
}

void AppendCountField(std::string_view name, std::optional<uint64_t> value,
                      std::string* out) {
  if (!value.has_value()) return;
  out->push_back(',');
  AppendKey(name, out);
  absl::StrAppend(out, *value);
}

absl::string_view KindName(Span::SpanKind kind) {
  switch (kind) {
    case Span::SPAN_KIND_INTERNAL:
      return "internal";
    case Span::SPAN_KIND_SERVER:
      return "server";
    case Span::SPAN_KIND_CLIENT:
      return "client";
    case Span::SPAN_KIND_PRODUCER:
      return "producer";
    case Span::SPAN_KIND_CONSUMER:
      return "consumer";
    default:
      return "unspecified";  // and values of a newer protocol
  }
}

absl::string_view StatusName(Status::StatusCode code) {
  switch (code) {
    case Status::STATUS_CODE_OK:
      return "ok";
    case Status::STATUS_CODE_ERROR:
      return "error";
    default:
      return "unset";
  }
}

}  // namespace

std::string HexId(std::string_view bytes) {
  return absl::BytesToHexString(absl::string_view(bytes.data(), bytes.size()));
}

bool ValidTraceId(std::string_view bytes) {
  return bytes.size() == 16 && !AllZero(bytes);
}

bool ValidSpanId(std::string_view bytes) {
  return bytes.size() == 8 && !AllZero(bytes);
}

std::string SpanEventId(std::string_view trace_id, std::string_view span_id) {
  constexpr std::string_view kDomain = "vigil.otlp.span";
  std::string input;
  input.reserve(kDomain.size() + trace_id.size() + span_id.size());
  input.append(kDomain).append(trace_id).append(span_id);
  std::string digest = base::Sha256Digest(input);
  digest[6] = static_cast<char>((digest[6] & 0x0f) | 0x80);  // v8
  digest[8] = static_cast<char>((digest[8] & 0x3f) | 0x80);  // RFC
  const std::string hex = HexId(std::string_view(digest).substr(0, 16));
  return absl::StrCat(hex.substr(0, 8), "-", hex.substr(8, 4), "-",
                      hex.substr(12, 4), "-", hex.substr(16, 4), "-",
                      hex.substr(20));
}

absl::Status AppendAttributesJson(const Attributes& attributes,
                                  const SpanLimits& limits, std::string* out) {
  return AppendObject(attributes, limits, 0, out);
}

std::string ScopeJson(
    const opentelemetry::proto::common::v1::InstrumentationScope& scope) {
  if (scope.name().empty() && scope.version().empty()) return "";
  std::string out = "{\"name\":";
  base::AppendJsonString(scope.name(), &out);
  out.append(",\"version\":");
  base::AppendJsonString(scope.version(), &out);
  out.push_back('}');
  return out;
}

absl::StatusOr<std::string> SpanRecordedJson(const Span& span,
                                             std::string_view resource_json,
                                             std::string_view scope_json,
                                             const PriceTable& prices,
                                             const SpanLimits& limits) {
  if (!ValidTraceId(span.trace_id())) {
    return absl::InvalidArgumentError(
        "trace_id must be 16 bytes, not all zero");
  }
  if (!ValidSpanId(span.span_id())) {
    return absl::InvalidArgumentError("span_id must be 8 bytes, not all zero");
  }
  const std::string& parent = span.parent_span_id();
  if (!parent.empty() && parent.size() != 8) {
    return absl::InvalidArgumentError(
        "parent_span_id must be empty or 8 bytes");
  }
  if (span.end_time_unix_nano() < span.start_time_unix_nano()) {
    return absl::InvalidArgumentError("end_time_unix_nano is before its start");
  }
  if (static_cast<size_t>(span.events_size()) > limits.max_events) {
    return absl::InvalidArgumentError(absl::StrCat(
        span.events_size(), " events, over the limit of ", limits.max_events));
  }
  if (static_cast<size_t>(span.links_size()) > limits.max_links) {
    return absl::InvalidArgumentError(absl::StrCat(
        span.links_size(), " links, over the limit of ", limits.max_links));
  }

  const GenAiFields genai = ReadGenAiFields(span.attributes());
  const uint64_t start_us = span.start_time_unix_nano() / 1000;
  const uint64_t end_us = span.end_time_unix_nano() / 1000;

  std::string out;
  out.reserve(512 + resource_json.size() + 64 * span.attributes_size());
  out.append("{\"trace_id\":\"").append(HexId(span.trace_id()));
  out.append("\",\"span_id\":\"").append(HexId(span.span_id()));
  out.push_back('"');
  if (!parent.empty() && !AllZero(parent)) {
    out.append(",\"parent_span_id\":\"").append(HexId(parent)).push_back('"');
  }
  out.append(",\"name\":");
  base::AppendJsonString(span.name(), &out);
  absl::StrAppend(&out, ",\"kind\":\"", KindName(span.kind()),
                  "\",\"start_time_us\":", start_us,
                  ",\"end_time_us\":", end_us, ",\"duration_ms\":");
  AppendDouble(static_cast<double>(span.end_time_unix_nano() -
                                   span.start_time_unix_nano()) /
                   1e6,
               &out);
  const bool error = span.status().code() == Status::STATUS_CODE_ERROR;
  absl::StrAppend(&out, ",\"status\":\"", StatusName(span.status().code()),
                  "\"");
  if (error) {
    std::string_view why = span.status().message();
    if (why.empty()) why = genai.error_type;
    AppendStringField("error", why, &out);
  }
  AppendStringField("operation", genai.operation, &out);
  AppendStringField("agent_id", genai.agent_id, &out);
  AppendStringField("agent_name", genai.agent_name, &out);
  AppendStringField("caller_agent_id", genai.caller_agent_id, &out);
  AppendStringField("tool", genai.tool, &out);
  AppendStringField("tool_call_id", genai.tool_call_id, &out);
  AppendStringField("provider", genai.provider, &out);
  AppendStringField("model", genai.model, &out);
  AppendCountField("input_tokens", genai.input_tokens, &out);
  AppendCountField("output_tokens", genai.output_tokens, &out);
  AppendCountField("cached_tokens", genai.cached_tokens, &out);
  if (IsModelCall(genai.operation)) {
    out.append(",\"cost_usd\":");
    AppendDouble(prices.CostUsd(genai.model, genai.input_tokens.value_or(0),
                                genai.output_tokens.value_or(0),
                                genai.cached_tokens.value_or(0)),
                 &out);
  }
  out.append(",\"attributes\":");
  RETURN_IF_ERROR(AppendAttributesJson(span.attributes(), limits, &out));
  if (span.events_size() > 0) {
    out.append(",\"events\":[");
    for (int i = 0; i < span.events_size(); ++i) {
      const Span::Event& event = span.events(i);
      if (i > 0) out.push_back(',');
      out.append("{\"name\":");
      base::AppendJsonString(event.name(), &out);
      absl::StrAppend(&out, ",\"time_us\":", event.time_unix_nano() / 1000,
                      ",\"attributes\":");
      RETURN_IF_ERROR(AppendAttributesJson(event.attributes(), limits, &out));
      out.push_back('}');
    }
    out.push_back(']');
  }
  if (span.links_size() > 0) {
    out.append(",\"links\":[");
    for (int i = 0; i < span.links_size(); ++i) {
      const Span::Link& link = span.links(i);
      if (i > 0) out.push_back(',');
      absl::StrAppend(&out, "{\"trace_id\":\"", HexId(link.trace_id()),
                      "\",\"span_id\":\"", HexId(link.span_id()),
                      "\",\"attributes\":");
      RETURN_IF_ERROR(AppendAttributesJson(link.attributes(), limits, &out));
      out.push_back('}');
    }
    out.push_back(']');
  }
  out.append(",\"resource\":").append(resource_json);
  if (!scope_json.empty()) out.append(",\"scope\":").append(scope_json);
  out.push_back('}');
  if (out.size() > limits.max_event_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("the span's event would be ", out.size(),
                     " bytes, over the limit of ", limits.max_event_bytes));
  }
  return out;
}

}  // namespace vigil::otlp
