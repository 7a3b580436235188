// Time travel's snapshot entries (projections/internal/fold_codec.h) as a
// damaged or hostile data directory would hand them to DecodeEntry: the
// first byte is the key's length, then the key, then the value. Decoding
// must give DATA_LOSS or a seeded fold, never a crash. Property: the
// entities a decode seeds, encoded, decode and encode again to the same
// bytes (the encoding is deterministic: equal states, equal digests); the
// snapshot's index entry decodes and encodes back to its bytes.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "projections/folds.h"
#include "projections/internal/fold_codec.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using vigil::fuzz::Check;

namespace internal = vigil::projections::internal;
using vigil::projections::AgentFold;
using vigil::projections::MetricsFold;
using vigil::projections::TaskFold;
using vigil::projections::TraceFold;
using Entries = std::vector<std::pair<std::string, std::string>>;

struct Folds {
  AgentFold agents;
  TaskFold tasks;
  MetricsFold metrics;
  TraceFold traces;

  absl::Status Decode(std::string_view key, std::string_view value) {
    return internal::DecodeEntry(key, value, &agents, &tasks, &metrics,
                                 &traces);
  }
  // Every entity as a snapshot entry, as projections/state_at.cc writes
  // them (sorted: the folds' hash maps have no order).
  Entries Encode() const {
    Entries out;
    for (const auto& [id, row] : agents.rows()) {
      out.emplace_back(internal::AgentKey(id), internal::EncodeAgent(row));
    }
    for (const auto& [id, row] : tasks.rows()) {
      out.emplace_back(internal::TaskKey(id), internal::EncodeTask(row));
    }
    for (const auto& [k, v] : tasks.pairs()) {
      out.emplace_back(internal::PairKey(internal::kPairKind, k),
                       internal::EncodePair(v));
    }
    for (const auto& [k, v] : tasks.messages()) {
      out.emplace_back(internal::PairKey(internal::kMessageKind, k),
                       internal::EncodeMessages(v));
    }
    for (const auto& [k, v] : metrics.agent_minutes()) {
      out.emplace_back(internal::MinuteKeyOf(internal::kAgentMinuteKind, k),
                       internal::EncodeAgentMinute(v));
    }
    for (const auto& [k, v] : metrics.usage_minutes()) {
      out.emplace_back(internal::MinuteKeyOf(internal::kUsageMinuteKind, k),
                       internal::EncodeUsageMinute(v));
    }
    for (const auto& [k, v] : traces.rows()) {
      out.emplace_back(internal::SpanKeyOf(k), internal::EncodeSpan(v));
    }
    std::sort(out.begin(), out.end());
    return out;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  std::string_view key = input.substr(0, data[0]);
  std::string_view value = input.substr(key.size());

  Folds first;
  if (!first.Decode(key, value).ok()) return 0;
  if (key == internal::IndexKey()) {
    // The index seeds no fold; it decodes and encodes to the same bytes.
    std::optional<internal::SnapshotIndex> index = internal::DecodeIndex(value);
    Check(index.has_value());
    Check(internal::EncodeIndex(*index) == value);
  }
  Entries encoded = first.Encode();
  Folds second;
  for (const auto& [k, v] : encoded) Check(second.Decode(k, v).ok());
  Check(second.Encode() == encoded);
  return 0;
}
