#include "api/event_proto.h"

namespace vigil::api {
namespace {

eventlog::ExpectedRevision FromProto(const vigil::v1::ExpectedRevision& proto) {
  using eventlog::ExpectedRevision;
  switch (proto.kind_case()) {
    case vigil::v1::ExpectedRevision::kNoStream:
      return ExpectedRevision::NoStream();
    case vigil::v1::ExpectedRevision::kStreamExists:
      return ExpectedRevision::StreamExists();
    case vigil::v1::ExpectedRevision::kExact:
      return ExpectedRevision::Exact(proto.exact());
    case vigil::v1::ExpectedRevision::kAny:
    case vigil::v1::ExpectedRevision::KIND_NOT_SET:
      break;
  }
  return ExpectedRevision::Any();
}

void ToProto(const eventlog::ExpectedRevision& expected,
             vigil::v1::ExpectedRevision* proto) {
  switch (expected.kind()) {
    case eventlog::ExpectedRevision::Kind::kAny:
      proto->mutable_any();
      return;
    case eventlog::ExpectedRevision::Kind::kNoStream:
      proto->mutable_no_stream();
      return;
    case eventlog::ExpectedRevision::Kind::kStreamExists:
      proto->mutable_stream_exists();
      return;
    case eventlog::ExpectedRevision::Kind::kExact:
      proto->set_exact(expected.revision());
      return;
  }
}

}  // namespace

void ToProto(const eventlog::RecordedEvent& event,
             vigil::v1::RecordedEvent* proto) {
  proto->set_event_id(event.event_id);
  proto->set_stream(event.stream);
  proto->set_revision(event.revision);
  proto->set_position(event.position);
  proto->set_type(event.type);
  proto->set_data(event.data);
  proto->set_content_type(event.content_type);
  proto->set_metadata(event.metadata);
  proto->set_recorded_time_us(event.recorded_time_us);
  proto->set_hash(event.hash);
}

eventlog::Filter FromProto(const vigil::v1::Filter& proto) {
  eventlog::Filter filter;
  filter.stream_prefixes.assign(proto.stream_prefixes().begin(),
                                proto.stream_prefixes().end());
  filter.event_types.assign(proto.event_types().begin(),
                            proto.event_types().end());
  return filter;
}

absl::StatusOr<eventlog::AppendRequest> FromProto(
    const vigil::v1::AppendRequest& proto) {
  eventlog::AppendRequest request;
  request.stream = proto.stream();
  request.expected_revision = FromProto(proto.expected_revision());
  request.idempotency_key = proto.idempotency_key();
  request.events.reserve(proto.events_size());
  for (const vigil::v1::EventData& event : proto.events()) {
    request.events.push_back(eventlog::EventData{
        .event_id = event.event_id(),
        .type = event.type(),
        .data = event.data(),
        .content_type = event.content_type(),
        .metadata = event.metadata(),
    });
  }
  return request;
}

void ToProto(const eventlog::AppendResult& result,
             vigil::v1::AppendResponse* proto) {
  proto->set_first_position(result.first_position);
  proto->set_last_position(result.last_position);
  proto->set_next_expected_revision(result.next_expected_revision);
  proto->set_deduplicated(result.deduplicated);
}

void ToProto(const eventlog::StreamInfo& info, vigil::v1::StreamInfo* proto) {
  proto->set_stream(info.stream);
  proto->set_last_revision(info.last_revision);
  proto->set_last_position(info.last_position);
  proto->set_event_count(info.event_count);
  proto->set_created_time_us(info.created_time_us);
  proto->set_updated_time_us(info.updated_time_us);
}

void ToProto(const eventlog::AppendRequest& request,
             vigil::v1::AppendRequest* proto) {
  proto->set_stream(request.stream);
  ToProto(request.expected_revision, proto->mutable_expected_revision());
  proto->set_idempotency_key(request.idempotency_key);
  for (const eventlog::EventData& event : request.events) {
    vigil::v1::EventData* out = proto->add_events();
    out->set_event_id(event.event_id);
    out->set_type(event.type);
    out->set_data(event.data);
    out->set_content_type(event.content_type);
    out->set_metadata(event.metadata);
  }
}

eventlog::AppendResult FromProto(const vigil::v1::AppendResponse& proto) {
  return eventlog::AppendResult{
      .first_position = proto.first_position(),
      .last_position = proto.last_position(),
      .next_expected_revision = proto.next_expected_revision(),
      .deduplicated = proto.deduplicated(),
  };
}

eventlog::RecordedEvent FromProto(const vigil::v1::RecordedEvent& proto) {
  return eventlog::RecordedEvent{
      .event_id = proto.event_id(),
      .stream = proto.stream(),
      .revision = proto.revision(),
      .position = proto.position(),
      .type = proto.type(),
      .data = proto.data(),
      .content_type = proto.content_type(),
      .metadata = proto.metadata(),
      .recorded_time_us = proto.recorded_time_us(),
      .hash = proto.hash(),
  };
}

}  // namespace vigil::api
