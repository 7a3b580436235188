#include "eventlog/event.h"

#include <algorithm>
#include <string_view>

#include "eventlog/internal/codec.h"

namespace vigil::eventlog {

std::string ExpectedRevision::ToString() const {
  switch (kind_) {
    case Kind::kAny:
      return "any";
    case Kind::kNoStream:
      return "no_stream";
    case Kind::kStreamExists:
      return "stream_exists";
    case Kind::kExact:
      return std::to_string(revision_);
  }
  return "any";
}

bool Filter::Matches(const RecordedEvent& event) const {
  const std::string_view stream = event.stream;
  if (!stream_prefixes.empty() &&
      std::none_of(stream_prefixes.begin(), stream_prefixes.end(),
                   [&](const std::string& prefix) {
                     return stream.substr(0, prefix.size()) == prefix;
                   })) {
    return false;
  }
  return event_types.empty() ||
         std::find(event_types.begin(), event_types.end(), event.type) !=
             event_types.end();
}

std::string GenesisHash() { return std::string(internal::kHashBytes, '\0'); }

std::string ChainedHash(std::string_view previous_hash,
                        const RecordedEvent& event) {
  return internal::ChainHash(previous_hash, internal::CanonicalBytes(event));
}

}  // namespace vigil::eventlog
