#include "otlp/price_table.h"

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace vigil::otlp {

PriceTable PriceTable::BuiltIn() {
  // USD per million tokens: input, output, cached input. List prices as
  // published by the providers in 2025; override with --otlp-prices.
  struct Row {
    const char* prefix;
    ModelPrice price;
  };
  static constexpr Row kRows[] = {
      {"gpt-4o", {2.50, 10.00, 1.25}},
      {"gpt-4o-mini", {0.15, 0.60, 0.075}},
      {"gpt-4.1", {2.00, 8.00, 0.50}},
      {"gpt-4.1-mini", {0.40, 1.60, 0.10}},
      {"gpt-4.1-nano", {0.10, 0.40, 0.025}},
      {"gpt-5", {1.25, 10.00, 0.125}},
      {"gpt-5-mini", {0.25, 2.00, 0.025}},
      {"gpt-5-nano", {0.05, 0.40, 0.005}},
      {"o3", {2.00, 8.00, 0.50}},
      {"o3-mini", {1.10, 4.40, 0.55}},
      {"o4-mini", {1.10, 4.40, 0.275}},
      {"text-embedding-3-small", {0.02, 0, 0.02}},
      {"text-embedding-3-large", {0.13, 0, 0.13}},
      {"claude-opus-4", {15.00, 75.00, 1.50}},
      {"claude-sonnet-4", {3.00, 15.00, 0.30}},
      {"claude-3-7-sonnet", {3.00, 15.00, 0.30}},
      {"claude-3-5-sonnet", {3.00, 15.00, 0.30}},
      {"claude-3-5-haiku", {0.80, 4.00, 0.08}},
      {"claude-haiku-4-5", {1.00, 5.00, 0.10}},
      {"gemini-2.5-pro", {1.25, 10.00, 0.31}},
      {"gemini-2.5-flash", {0.30, 2.50, 0.075}},
      {"gemini-2.0-flash", {0.10, 0.40, 0.025}},
  };
  PriceTable table;
  for (const Row& row : kRows) table.Add(row.prefix, row.price);
  return table;
}

absl::StatusOr<PriceTable> PriceTable::FromFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("cannot read the price file ", path));
  }
  std::string text(kMaxPriceFileBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > kMaxPriceFileBytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the price file ", path, " exceeds ", kMaxPriceFileBytes, " bytes"));
  }
  absl::StatusOr<PriceTable> table = FromJson(text);
  if (!table.ok()) {
    return absl::Status(table.status().code(),
                        absl::StrCat(path, ": ", table.status().message()));
  }
  return table;
}

absl::StatusOr<PriceTable> PriceTable::FromJson(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(json.data(), json.size()).get(root) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("the price table is not valid JSON");
  }
  simdjson::dom::object models;
  if (root.get(models) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(
        "the price table must be a JSON object of model prefixes");
  }
  PriceTable table;
  for (auto [key, value] : models) {
    const std::string model(key);
    if (table.prices_.size() == kMaxPriceModels) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "the price table has more than ", kMaxPriceModels, " models"));
    }
    if (model.empty()) {
      return absl::InvalidArgumentError("a model prefix is empty");
    }
    simdjson::dom::object fields;
    if (value.get(fields) != simdjson::SUCCESS) {
      return absl::InvalidArgumentError(absl::StrCat(
          "\"", model,
          "\": must be {\"input\", \"output\", \"cached_input\"?}"));
    }
    ModelPrice price;
    bool has_input = false, has_output = false, has_cached = false;
    for (auto [name, number] : fields) {
      double usd = 0;
      if (number.get(usd) != simdjson::SUCCESS || !std::isfinite(usd) ||
          usd < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("\"", model, "\".", std::string(name),
                         ": must be a number >= 0 (USD per million tokens)"));
      }
      if (name == "input") {
        price.input = usd, has_input = true;
      } else if (name == "output") {
        price.output = usd, has_output = true;
      } else if (name == "cached_input") {
        price.cached_input = usd, has_cached = true;
      } else {
        return absl::InvalidArgumentError(absl::StrCat(
            "\"", model, "\": unknown field \"", std::string(name), "\""));
      }
    }
    if (!has_input || !has_output) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", model, "\": needs \"input\" and \"output\""));
    }
    if (!has_cached) price.cached_input = price.input;
    if (!table.Add(model, price)) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", model, "\" is listed twice"));
    }
  }
  return table;
}

bool PriceTable::Add(std::string prefix, ModelPrice price) {
  longest_prefix_ = std::max(longest_prefix_, prefix.size());
  return prices_.emplace(std::move(prefix), price).second;
}

const ModelPrice* PriceTable::Find(std::string_view model) const {
  for (size_t length = std::min(model.size(), longest_prefix_); length > 0;
       --length) {
    auto it = prices_.find(model.substr(0, length));
    if (it != prices_.end()) return &it->second;
  }
  return nullptr;
}

double PriceTable::CostUsd(std::string_view model, uint64_t input_tokens,
                           uint64_t output_tokens,
                           uint64_t cached_tokens) const {
  const ModelPrice* price = Find(model);
  if (price == nullptr) return 0;
  const uint64_t cached = std::min(cached_tokens, input_tokens);
  return (static_cast<double>(input_tokens - cached) * price->input +
          static_cast<double>(cached) * price->cached_input +
          static_cast<double>(output_tokens) * price->output) /
         1e6;
}

}  // namespace vigil::otlp
