// PriceTable: what a model call costs, in US dollars per million tokens, by
// model name prefix (docs/otlp.md "Price table"). The cost is computed on
// ingest and stored in the SpanRecorded event, so a replay never changes
// when the table does.
//
// Immutable once built: safe to share between threads.

#ifndef VIGIL_OTLP_PRICE_TABLE_H_
#define VIGIL_OTLP_PRICE_TABLE_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace vigil::otlp {

// USD per million tokens.
struct ModelPrice {
  double input = 0;
  double output = 0;
  // Cached input tokens (part of the input tokens, as the GenAI conventions
  // count them). Absent in a file: the input price.
  double cached_input = 0;
};

// The largest price file accepted, and the most models in it.
inline constexpr size_t kMaxPriceFileBytes = 1 << 20;  // 1 MiB
inline constexpr size_t kMaxPriceModels = 10000;

class PriceTable {
 public:
  // The built-in table: list prices of common OpenAI, Anthropic and Google
  // models (docs/otlp.md lists them).
  static PriceTable BuiltIn();

  // The table of a --otlp-prices file, which replaces the built-in one:
  //   {"<model prefix>": {"input": usd, "output": usd, "cached_input": usd}}
  // prices per million tokens, finite and >= 0; "cached_input" optional.
  // INVALID_ARGUMENT naming the model for a malformed file, NOT_FOUND when
  // it cannot be read, RESOURCE_EXHAUSTED past kMaxPriceFileBytes or
  // kMaxPriceModels.
  static absl::StatusOr<PriceTable> FromFile(const std::string& path);
  static absl::StatusOr<PriceTable> FromJson(std::string_view json);

  // The price of the longest prefix of `model` in the table; null when no
  // entry is a prefix of it.
  const ModelPrice* Find(std::string_view model) const;

  // (input − cached) × input + cached × cached_input + output × output, per
  // million tokens; 0 for a model not in the table. `cached` is clamped to
  // `input`.
  double CostUsd(std::string_view model, uint64_t input_tokens,
                 uint64_t output_tokens, uint64_t cached_tokens) const;

 private:
  // False when `prefix` is already in the table.
  bool Add(std::string prefix, ModelPrice price);

  std::map<std::string, ModelPrice, std::less<>> prices_;
  size_t longest_prefix_ = 0;  // the longest key's length
};

}  // namespace vigil::otlp

#endif  // VIGIL_OTLP_PRICE_TABLE_H_
