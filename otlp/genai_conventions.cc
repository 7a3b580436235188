#include "otlp/genai_conventions.h"

#include <cmath>

#include "absl/container/flat_hash_map.h"

namespace vigil::otlp {
namespace {

using opentelemetry::proto::common::v1::AnyValue;
using opentelemetry::proto::common::v1::KeyValue;

enum class Field {
  kOperation,
  kTraceloopKind,   // traceloop.span.kind: agent, tool, workflow
  kLlmRequestType,  // llm.request.type: chat, completion, embedding
  kEntityName,      // traceloop.entity.name: the agent's or tool's name
  kAgentId,
  kAgentName,
  kCaller,
  kTool,
  kToolCallId,
  kProvider,
  kModel,
  kErrorType,
  kInputTokens,
  kOutputTokens,
  kCachedTokens,
  kCount,
};

struct Name {
  Field field;
  int rank;  // 0 the current name; higher: older names, used when it is absent
};

const absl::flat_hash_map<std::string_view, Name>& Names() {
  static const auto* names = new absl::flat_hash_map<std::string_view, Name>{
      {"gen_ai.operation.name", {Field::kOperation, 0}},
      {"traceloop.span.kind", {Field::kTraceloopKind, 0}},
      {"llm.request.type", {Field::kLlmRequestType, 0}},
      {"traceloop.entity.name", {Field::kEntityName, 0}},
      {"gen_ai.agent.id", {Field::kAgentId, 0}},
      {"gen_ai.agent.name", {Field::kAgentName, 0}},
      {"gen_ai.caller.agent.id", {Field::kCaller, 0}},
      {"gen_ai.caller.agent.name", {Field::kCaller, 1}},
      {"gen_ai.handoff.from_agent", {Field::kCaller, 2}},
      {"gen_ai.tool.name", {Field::kTool, 0}},
      {"gen_ai.tool.call.id", {Field::kToolCallId, 0}},
      {"gen_ai.provider.name", {Field::kProvider, 0}},
      {"gen_ai.system", {Field::kProvider, 1}},
      {"gen_ai.response.model", {Field::kModel, 0}},
      {"gen_ai.request.model", {Field::kModel, 1}},
      {"error.type", {Field::kErrorType, 0}},
      {"gen_ai.usage.input_tokens", {Field::kInputTokens, 0}},
      {"gen_ai.usage.prompt_tokens", {Field::kInputTokens, 1}},
      {"llm.usage.prompt_tokens", {Field::kInputTokens, 2}},
      {"gen_ai.usage.output_tokens", {Field::kOutputTokens, 0}},
      {"gen_ai.usage.completion_tokens", {Field::kOutputTokens, 1}},
      {"llm.usage.completion_tokens", {Field::kOutputTokens, 2}},
      {"gen_ai.usage.cache_read.input_tokens", {Field::kCachedTokens, 0}},
      {"gen_ai.usage.cache_read_input_tokens", {Field::kCachedTokens, 1}},
      {"gen_ai.usage.cached_tokens", {Field::kCachedTokens, 2}},
      {"llm.usage.cache_read_input_tokens", {Field::kCachedTokens, 3}},
  };
  return *names;
}

// A token count: a non-negative integer, an integral double, or decimal
// digits in a string (some SDKs send those). Anything else: not given.
std::optional<uint64_t> Count(const AnyValue& value) {
  switch (value.value_case()) {
    case AnyValue::kIntValue:
      if (value.int_value() >= 0) return value.int_value();
      break;
    case AnyValue::kDoubleValue: {
      const double d = value.double_value();
      if (d >= 0 && d < 9007199254740992.0 && std::floor(d) == d) {
        return static_cast<uint64_t>(d);
      }
      break;
    }
    case AnyValue::kStringValue: {
      const std::string& s = value.string_value();
      if (s.empty() || s.size() > 18) break;
      uint64_t n = 0;
      for (char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        n = n * 10 + static_cast<uint64_t>(c - '0');
      }
      return n;
    }
    default:
      break;
  }
  return std::nullopt;
}

std::string_view InferredOperation(std::string_view traceloop_kind,
                                   std::string_view llm_request_type) {
  if (traceloop_kind == "agent") return "invoke_agent";
  if (traceloop_kind == "tool") return "execute_tool";
  if (traceloop_kind == "workflow") return "invoke_workflow";
  if (llm_request_type == "chat") return "chat";
  if (llm_request_type == "completion") return "text_completion";
  if (llm_request_type == "embedding") return "embeddings";
  return "";
}

}  // namespace

GenAiFields ReadGenAiFields(
    const google::protobuf::RepeatedPtrField<KeyValue>& attributes) {
  constexpr size_t kFields = static_cast<size_t>(Field::kCount);
  const AnyValue* found[kFields] = {};
  int rank[kFields];
  for (int& r : rank) r = 1 << 30;
  const auto& names = Names();
  for (const KeyValue& attribute : attributes) {
    auto it = names.find(attribute.key());
    if (it == names.end()) continue;
    const size_t index = static_cast<size_t>(it->second.field);
    // Strictly lower: of two equal names the first wins, as in `attributes`.
    if (it->second.rank < rank[index]) {
      rank[index] = it->second.rank;
      found[index] = &attribute.value();
    }
  }
  auto text = [&](Field field) -> std::string {
    const AnyValue* value = found[static_cast<size_t>(field)];
    if (value == nullptr) return "";
    switch (value->value_case()) {
      case AnyValue::kStringValue:
        return value->string_value();
      case AnyValue::kIntValue:
        return std::to_string(value->int_value());
      default:
        return "";
    }
  };
  auto count = [&](Field field) -> std::optional<uint64_t> {
    const AnyValue* value = found[static_cast<size_t>(field)];
    return value == nullptr ? std::nullopt : Count(*value);
  };

  GenAiFields fields;
  fields.operation = text(Field::kOperation);
  const std::string traceloop_kind = text(Field::kTraceloopKind);
  if (fields.operation.empty()) {
    fields.operation = std::string(
        InferredOperation(traceloop_kind, text(Field::kLlmRequestType)));
  }
  fields.agent_name = text(Field::kAgentName);
  fields.tool = text(Field::kTool);
  // OpenLLMetry names the agent or tool of its spans in traceloop.entity.name.
  if (traceloop_kind == "agent" && fields.agent_name.empty()) {
    fields.agent_name = text(Field::kEntityName);
  } else if (traceloop_kind == "tool" && fields.tool.empty()) {
    fields.tool = text(Field::kEntityName);
  }
  fields.agent_id = text(Field::kAgentId);
  if (fields.agent_id.empty()) fields.agent_id = fields.agent_name;
  fields.caller_agent_id = text(Field::kCaller);
  fields.tool_call_id = text(Field::kToolCallId);
  fields.provider = text(Field::kProvider);
  fields.model = text(Field::kModel);
  fields.error_type = text(Field::kErrorType);
  fields.input_tokens = count(Field::kInputTokens);
  fields.output_tokens = count(Field::kOutputTokens);
  fields.cached_tokens = count(Field::kCachedTokens);
  return fields;
}

bool IsModelCall(std::string_view operation) {
  return operation == "chat" || operation == "text_completion" ||
         operation == "generate_content" || operation == "embeddings";
}

}  // namespace vigil::otlp
