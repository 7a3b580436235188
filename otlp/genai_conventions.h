// The OpenTelemetry GenAI semantic conventions as Vigil reads them: which
// span attributes name the operation, the agent, its caller, the tool, the
// provider, the model and the token counts, accepting the current names and
// the ones recently renamed or removed (and OpenLLMetry's `traceloop.*` and
// `llm.*`). The table of names is docs/otlp.md "SpanRecorded"; a current
// name wins over an older one whatever their order in the span.
//
// Pure functions, safe from any thread.

#ifndef VIGIL_OTLP_GENAI_CONVENTIONS_H_
#define VIGIL_OTLP_GENAI_CONVENTIONS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "google/protobuf/repeated_ptr_field.h"
#include "opentelemetry/proto/common/v1/common.pb.h"

namespace vigil::otlp {

// What a span's attributes say in the GenAI vocabulary. Empty strings and
// nullopt: not given.
struct GenAiFields {
  std::string operation;  // given, or inferred from traceloop.* / llm.*
  std::string agent_id;   // falls back to agent_name
  std::string agent_name;
  std::string caller_agent_id;
  std::string tool;
  std::string tool_call_id;
  std::string provider;
  std::string model;
  std::string error_type;  // error.type
  std::optional<uint64_t> input_tokens;
  std::optional<uint64_t> output_tokens;
  std::optional<uint64_t> cached_tokens;
};

GenAiFields ReadGenAiFields(
    const google::protobuf::RepeatedPtrField<
        opentelemetry::proto::common::v1::KeyValue>& attributes);

// True for the operations that are model calls: chat, text_completion,
// generate_content, embeddings.
bool IsModelCall(std::string_view operation);

}  // namespace vigil::otlp

#endif  // VIGIL_OTLP_GENAI_CONVENTIONS_H_
