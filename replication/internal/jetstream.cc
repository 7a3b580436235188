#include "replication/internal/jetstream.h"

#include <nats/nats.h>

#include <algorithm>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "replication/event_headers.h"

namespace vigil::replication::internal {
namespace {

// How long JetStream keeps a reading consumer nobody fetches from (a
// session that ended without deleting it).
constexpr absl::Duration kConsumerInactive = absl::Seconds(30);

// nats.c's status as ours, with its last error's text.
absl::Status Failed(std::string_view what, natsStatus status,
                    jsErrCode js_error = static_cast<jsErrCode>(0)) {
  const char* detail = nats_GetLastError(nullptr);
  return absl::UnavailableError(absl::StrCat(
      std::string(what), ": ", natsStatus_GetText(status),
      js_error != 0 ? absl::StrCat(" (JetStream error ", js_error, ")") : "",
      detail != nullptr && *detail != '\0' ? absl::StrCat(": ", detail) : ""));
}

int64_t Millis(absl::Duration duration) {
  return absl::ToInt64Milliseconds(duration);
}

// The position a published message carries (event_headers.h).
uint64_t PositionOf(natsMsg* msg) {
  const char* id = nullptr;
  uint64_t position = 0;
  if (msg != nullptr && natsMsgHeader_Get(msg, kPositionHeader, &id) == NATS_OK &&
      id != nullptr) {
    (void)absl::SimpleAtoi(id, &position);
  }
  return position;
}

void OnAck(jsCtx*, natsMsg* msg, jsPubAck* ack, jsPubAckErr* error,
           void* closure) {
  const auto& on_ack = *static_cast<const AckCallback*>(closure);
  const uint64_t position = PositionOf(msg);
  if (ack != nullptr) {
    on_ack(position, ack->Sequence);
  } else if (error != nullptr) {
    on_ack(position,
           absl::UnavailableError(absl::StrCat(
               "JetStream refused or did not acknowledge position ", position,
               ": ", error->ErrText != nullptr ? error->ErrText
                                                : natsStatus_GetText(error->Err),
               error->ErrCode != 0 ? absl::StrCat(" (JetStream error ",
                                                  error->ErrCode, ")")
                                   : "")));
  }
  natsMsg_Destroy(msg);
}

// The event `msg` (sequence `sequence` of stream `name`) holds; DATA_LOSS
// naming them when it is not a Vigil event.
absl::StatusOr<eventlog::RecordedEvent> EventOfNatsMsg(natsMsg* msg,
                                                       const std::string& name,
                                                       uint64_t sequence) {
  absl::StatusOr<eventlog::RecordedEvent> event = EventOfMessage(
      [msg](std::string_view key) -> std::optional<std::string> {
        const char* value = nullptr;
        if (natsMsgHeader_Get(msg, std::string(key).c_str(), &value) !=
                NATS_OK ||
            value == nullptr) {
          return std::nullopt;
        }
        return std::string(value);
      },
      std::string_view(natsMsg_GetData(msg),
                       static_cast<size_t>(natsMsg_GetDataLength(msg))));
  if (!event.ok()) {
    return absl::DataLossError(absl::StrCat(
        "sequence ", sequence, " of the JetStream stream ", name,
        " is not a Vigil event: ", event.status().message()));
  }
  return event;
}

}  // namespace

struct JetStream::Handles {
  natsConnection* connection = nullptr;
  jsCtx* js = nullptr;
  // nats.c 3.4's js_PublishAsyncGetPendingList crashes on a context that
  // never published asynchronously.
  bool published = false;
  // StartReading's pull subscription, and its stream.
  natsSubscription* reader = nullptr;
  std::string reader_stream;

  // Deletes the consumer (best effort: else JetStream does after
  // kConsumerInactive).
  void DropReader() {
    if (reader == nullptr) return;
    natsSubscription_Unsubscribe(reader);
    natsSubscription_Destroy(reader);
    reader = nullptr;
  }

  ~Handles() {
    DropReader();
    if (js != nullptr && published) {
      natsMsgList pending{};
      if (js_PublishAsyncGetPendingList(&pending, js) == NATS_OK) {
        natsMsgList_Destroy(&pending);
      }
    }
    if (js != nullptr) jsCtx_Destroy(js);
    if (connection != nullptr) natsConnection_Destroy(connection);
  }
};

absl::StatusOr<std::unique_ptr<JetStream>> JetStream::Connect(
    const JetStreamOptions& options) {
  natsOptions* nats_options = nullptr;
  natsStatus s = natsOptions_Create(&nats_options);
  // natsOptions_SetURL does not connect with a comma-separated list in
  // nats.c 3.4 ("No server available"): the servers go in one by one.
  std::vector<std::string> servers =
      absl::StrSplit(options.url, ',', absl::SkipWhitespace());
  for (std::string& server : servers) {
    server = std::string(absl::StripAsciiWhitespace(server));
  }
  std::vector<const char*> server_list;
  for (const std::string& server : servers) server_list.push_back(server.c_str());
  if (s == NATS_OK) {
    s = natsOptions_SetServers(nats_options, server_list.data(),
                               static_cast<int>(server_list.size()));
  }
  if (s == NATS_OK) {
    s = natsOptions_SetTimeout(nats_options, Millis(options.connect_timeout));
  }
  // Reconnect forever, quickly; a node that stops answering (SIGSTOP, a
  // partition) is noticed after two missed pings a second apart.
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(nats_options, -1);
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(nats_options, 250);
  if (s == NATS_OK) s = natsOptions_SetPingInterval(nats_options, 1000);
  if (s == NATS_OK) s = natsOptions_SetMaxPingsOut(nats_options, 2);
  auto jet_stream = std::unique_ptr<JetStream>(new JetStream());
  jet_stream->chain_message_ids_ = options.chain_message_ids;
  jet_stream->handles_ = std::make_unique<Handles>();
  Handles& handles = *jet_stream->handles_;
  if (s == NATS_OK) s = natsConnection_Connect(&handles.connection, nats_options);
  natsOptions_Destroy(nats_options);
  if (s != NATS_OK) {
    return Failed(absl::StrCat("connecting to NATS at ", options.url), s);
  }
  jsOptions js_options;
  jsOptions_Init(&js_options);
  js_options.Wait = Millis(options.api_timeout);
  js_options.PublishAsync.MaxPending = static_cast<int64_t>(options.max_pending);
  js_options.PublishAsync.AckHandler = OnAck;
  js_options.PublishAsync.AckHandlerClosure =
      const_cast<AckCallback*>(options.on_ack);
  s = natsConnection_JetStream(&handles.js, handles.connection, &js_options);
  if (s != NATS_OK) return Failed("opening the JetStream context", s);
  return jet_stream;
}

JetStream::~JetStream() = default;

std::string MessageId(const eventlog::RecordedEvent& event) {
  return absl::StrCat(event.position, "-", HashHex(event.hash).substr(0, 16));
}

absl::StatusOr<uint64_t> JetStream::LastSequence(const std::string& name) {
  jsStreamInfo* info = nullptr;
  jsErrCode js_error = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&info, handles_->js, name.c_str(), nullptr,
                                  &js_error);
  if (s == NATS_NOT_FOUND || js_error == JSStreamNotFoundErr) {
    return absl::NotFoundError(
        absl::StrCat("the JetStream stream ", name, " does not exist"));
  }
  if (s != NATS_OK) {
    return Failed(absl::StrCat("reading the JetStream stream ", name), s,
                  js_error);
  }
  const uint64_t last = info->State.LastSeq;
  jsStreamInfo_Destroy(info);
  return last;
}

absl::StatusOr<uint64_t> JetStream::EnsureStream(
    const std::string& name, const std::string& subject_prefix, int replicas) {
  absl::StatusOr<uint64_t> last = LastSequence(name);
  if (!absl::IsNotFound(last.status())) return last;
  const std::string subjects = subject_prefix + ".>";
  const char* subject_list[] = {subjects.c_str()};
  jsStreamConfig config;
  jsStreamConfig_Init(&config);
  config.Name = name.c_str();
  config.Subjects = subject_list;
  config.SubjectsLen = 1;
  config.Storage = js_FileStorage;
  config.Replicas = replicas;
  // The mirror never deletes: nobody but JetStream's limits could, and
  // there are none, so sequence N stays position N.
  config.DenyDelete = true;
  config.DenyPurge = true;
  jsStreamInfo* info = nullptr;
  jsErrCode js_error = static_cast<jsErrCode>(0);
  natsStatus s = js_AddStream(&info, handles_->js, &config, nullptr, &js_error);
  if (s != NATS_OK) {
    return Failed(absl::StrCat("creating the JetStream stream ", name), s,
                  js_error);
  }
  const uint64_t created_last = info->State.LastSeq;
  jsStreamInfo_Destroy(info);
  return created_last;
}

absl::StatusOr<eventlog::RecordedEvent> JetStream::GetEvent(
    const std::string& name, uint64_t sequence) {
  natsMsg* msg = nullptr;
  jsErrCode js_error = static_cast<jsErrCode>(0);
  natsStatus s =
      js_GetMsg(&msg, handles_->js, name.c_str(), sequence, nullptr, &js_error);
  if (js_error == JSNoMessageFoundErr) {
    return absl::NotFoundError(absl::StrCat(
        "the JetStream stream ", name, " has no message at sequence ",
        sequence));
  }
  if (s != NATS_OK) {
    return Failed(absl::StrCat("reading sequence ", sequence,
                               " of the JetStream stream ", name),
                  s, js_error);
  }
  absl::StatusOr<eventlog::RecordedEvent> event =
      EventOfNatsMsg(msg, name, sequence);
  natsMsg_Destroy(msg);
  return event;
}

absl::StatusOr<eventlog::RecordedEvent> JetStream::GetLastEvent(
    const std::string& name, const std::string& subject) {
  natsMsg* msg = nullptr;
  jsErrCode js_error = static_cast<jsErrCode>(0);
  natsStatus s = js_GetLastMsg(&msg, handles_->js, name.c_str(),
                               subject.c_str(), nullptr, &js_error);
  if (js_error == JSNoMessageFoundErr || s == NATS_NOT_FOUND) {
    return absl::NotFoundError(absl::StrCat(
        "the JetStream stream ", name, " has no message on ", subject));
  }
  if (s != NATS_OK) {
    return Failed(absl::StrCat("reading the last message on ", subject,
                               " of the JetStream stream ", name),
                  s, js_error);
  }
  absl::StatusOr<eventlog::RecordedEvent> event =
      EventOfNatsMsg(msg, name, natsMsg_GetSequence(msg));
  natsMsg_Destroy(msg);
  return event;
}

absl::Status JetStream::StartReading(const std::string& name, uint64_t first,
                                     const std::string& only_subject) {
  handles_->DropReader();
  std::string subject = only_subject;
  if (subject.empty()) {
    // The consumer's filter must be the stream's subjects: read them.
    jsStreamInfo* info = nullptr;
    jsErrCode js_error = static_cast<jsErrCode>(0);
    natsStatus s = js_GetStreamInfo(&info, handles_->js, name.c_str(), nullptr,
                                    &js_error);
    if (s != NATS_OK) {
      return Failed(absl::StrCat("reading the JetStream stream ", name), s,
                    js_error);
    }
    if (info->Config != nullptr && info->Config->SubjectsLen == 1) {
      subject = info->Config->Subjects[0];
    }
    jsStreamInfo_Destroy(info);
    if (subject.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the JetStream stream ", name,
          " does not have the one subject a Vigil mirror gives it"));
    }
  }
  jsSubOptions sub_options;
  jsSubOptions_Init(&sub_options);
  sub_options.Stream = name.c_str();
  sub_options.Config.DeliverPolicy = js_DeliverByStartSequence;
  sub_options.Config.OptStartSeq = first;
  sub_options.Config.AckPolicy = js_AckNone;
  sub_options.Config.MemoryStorage = true;
  sub_options.Config.Replicas = 1;
  sub_options.Config.InactiveThreshold =
      absl::ToInt64Nanoseconds(kConsumerInactive);
  jsErrCode js_error = static_cast<jsErrCode>(0);
  natsStatus s = js_PullSubscribe(&handles_->reader, handles_->js, subject.c_str(),
                       nullptr, nullptr, &sub_options, &js_error);
  if (s != NATS_OK) {
    handles_->reader = nullptr;
    return Failed(absl::StrCat("reading the JetStream stream ", name,
                               " from sequence ", first),
                  s, js_error);
  }
  handles_->reader_stream = name;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<StoredEvent>> JetStream::Fetch(
    size_t max, absl::Duration wait) {
  if (handles_->reader == nullptr) {
    return absl::UnavailableError("no JetStream consumer to fetch from");
  }
  // Messages of an earlier request that came after it returned would be
  // taken first by the next fetch, and nats.c 3.4.1's fetch overflows its
  // array when they are more than half a batch (fixed upstream in nats.c
  // #749). So every request is no-wait (the server answers at once with
  // what it has, ending with a status when that is less than the batch, so
  // nothing comes after the answer), and a subscription holding messages
  // nobody asked for is given up.
  // The server ends a request that found nothing with a status message
  // (408) at its expiry, which comes after nats.c's own timeout returned:
  // such late statuses are dropped; a late message is not.
  int pending = 0;
  while (natsSubscription_GetPending(handles_->reader, &pending, nullptr) ==
             NATS_OK &&
         pending > 0) {
    natsMsg* late = nullptr;
    if (natsSubscription_NextMsg(&late, handles_->reader, 0) != NATS_OK) break;
    const char* status = nullptr;
    const bool only_status =
        natsMsg_GetDataLength(late) == 0 &&
        natsMsgHeader_Get(late, "Status", &status) == NATS_OK;
    natsMsg_Destroy(late);
    if (!only_status) {
      return absl::UnavailableError(absl::StrCat(
          "the JetStream consumer on ", handles_->reader_stream,
          " holds messages no fetch asked for"));
    }
  }
  jsFetchRequest request;
  jsFetchRequest_Init(&request);
  request.Batch = static_cast<int>(max);
  request.NoWait = true;
  request.Expires = absl::ToInt64Nanoseconds(
      std::max(wait, absl::Milliseconds(1)));
  natsMsgList list{};
  natsStatus s = natsSubscription_FetchRequest(&list, handles_->reader,
                                               &request);
  std::vector<StoredEvent> stored;
  // Nothing there now: nats-server 2.9 answers a no-wait request that
  // carries an expiry only at the expiry, so nats.c times out first.
  if (s == NATS_NOT_FOUND || (s == NATS_TIMEOUT && list.Count == 0)) {
    natsMsgList_Destroy(&list);
    return stored;
  }
  if (s != NATS_OK && s != NATS_TIMEOUT) {
    return Failed(absl::StrCat("fetching from the JetStream stream ",
                               handles_->reader_stream),
                  s);
  }
  absl::Status failed;
  for (int i = 0; i < list.Count && failed.ok(); ++i) {
    jsMsgMetaData* meta = nullptr;
    if (natsMsg_GetMetaData(&meta, list.Msgs[i]) != NATS_OK) {
      failed = absl::DataLossError(absl::StrCat(
          "a message of the JetStream stream ", handles_->reader_stream,
          " came without its sequence"));
      break;
    }
    const uint64_t sequence = meta->Sequence.Stream;
    jsMsgMetaData_Destroy(meta);
    absl::StatusOr<eventlog::RecordedEvent> event =
        EventOfNatsMsg(list.Msgs[i], handles_->reader_stream, sequence);
    if (!event.ok()) {
      failed = event.status();
      break;
    }
    stored.push_back({sequence, *std::move(event)});
  }
  natsMsgList_Destroy(&list);
  if (!failed.ok()) return failed;
  return stored;
}

absl::Status JetStream::PublishAsync(const std::string& subject,
                                     const eventlog::RecordedEvent& event,
                                     absl::Duration ack_timeout) {
  natsMsg* msg = nullptr;
  natsStatus s = natsMsg_Create(&msg, subject.c_str(), nullptr,
                                event.data.data(),
                                static_cast<int>(event.data.size()));
  for (const Header& header : EventHeaders(event)) {
    if (s != NATS_OK) break;
    s = natsMsgHeader_Set(msg, header.first.c_str(), header.second.c_str());
  }
  const std::string id = MessageId(event);
  jsPubOptions publish;
  jsPubOptions_Init(&publish);
  publish.MsgId = id.c_str();
  publish.ExpectLastSeq = event.position - 1;
  publish.ExpectNoMessage = event.position == 1;
  if (chain_message_ids_ && !last_published_id_.empty()) {
    publish.ExpectLastMsgId = last_published_id_.c_str();
  }
  publish.MaxWait = Millis(ack_timeout);
  if (s == NATS_OK) {
    handles_->published = true;
    s = js_PublishMsgAsync(handles_->js, &msg, &publish);
  }
  natsMsg_Destroy(msg);  // a no-op once the library owns it
  if (s != NATS_OK) {
    return Failed(absl::StrCat("publishing position ", event.position), s);
  }
  last_published_id_ = id;
  return absl::OkStatus();
}

}  // namespace vigil::replication::internal
