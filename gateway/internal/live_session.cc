#include "gateway/internal/live_session.h"

#include <utility>  // before Asio: Boost 1.74 needs std::exchange declared

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "gateway/internal/live_socket.h"

namespace vigil::gateway::internal {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using Clock = std::chrono::steady_clock;

// Our close codes (RFC 6455 7.4; 4000-4999 are the application's).
constexpr uint16_t kCloseSlowConsumer = 4008;
constexpr uint16_t kCloseTooManyMessages = 1008;  // policy violation
constexpr uint16_t kCloseGoingAway = 1001;

// The most frames, and payload bytes past the first frame, a connection
// takes from its queue and writes at once (one gather write).
constexpr size_t kMaxWriteFrames = 128;
constexpr size_t kMaxWriteBytes = 1 << 20;  // 1 MiB

// When the server stops, how long a connection waits for the client's
// answer to its close before dropping it (close_timeout otherwise).
constexpr auto kStopCloseWait = std::chrono::milliseconds(500);
// A client message's buffer larger than this is freed once it is handled.
constexpr size_t kKeepInputBytes = 1024;

std::chrono::milliseconds ToChrono(absl::Duration duration) {
  return absl::ToChronoMilliseconds(duration);
}

// What both kinds of live connection share: one write in flight, taking
// all the subscription has queued (up to kMaxWriteFrames) at once, the
// ticker's once-a-second tick (live_ticker.h) that closes a connection
// whose write has not finished for slow_consumer_timeout, and a deadline on
// closing (a timer of its own, only while closing). `Derived` provides
// Write(frames, handler) (the frames as one gather write), CloseWith(code,
// reason), Idle and the stream. Everything runs on the connection's strand.
template <typename Derived>
class LiveConnection : public std::enable_shared_from_this<Derived>,
                       public LiveTicker::Target {
 public:
  LiveConnection(std::shared_ptr<LiveSubscription> subscription, LiveHub* hub,
                 RequestHandler* handler, LiveTicker* ticker)
      : subscription_(std::move(subscription)),
        hub_(hub),
        handler_(handler),
        ticker_(ticker) {}

  // On the ticker's thread: the subscription's tick (thread-safe), and
  // the connection's own only when a write is stuck or Derived's
  // IdleDue says so.
  void Tick(Clock::time_point now) override {
    subscription_->Tick(absl::Now());
    const Clock::rep started = write_started_.load(std::memory_order_relaxed);
    const bool stuck =
        started != 0 &&
        now - Clock::time_point(Clock::duration(started)) >=
            ToChrono(hub_->options().slow_consumer_timeout);
    if (stuck || self().IdleDue(now)) {
      net::post(self().executor(), [self = shared()] { self->OnTick(); });
    }
  }

  ~LiveConnection() { subscription_->Close(); }

 protected:
  Derived& self() { return static_cast<Derived&>(*this); }
  std::shared_ptr<Derived> shared() { return this->shared_from_this(); }

  // After the handshake: delivery starts.
  void Begin() {
    std::weak_ptr<Derived> weak = this->weak_from_this();
    const auto executor = self().executor();
    LiveSubscription::Callbacks callbacks;
    callbacks.wake = [weak, executor] {
      net::post(executor, [weak] {
        if (auto self = weak.lock()) self->WriteNext();
      });
    };
    callbacks.stop = [weak, executor] {
      net::post(executor, [weak] {
        if (auto self = weak.lock()) {
          self->CloseWith(kCloseGoingAway, "server shutting down");
        }
      });
    };
    subscription_->Start(std::move(callbacks));
    ticker_->Add(this->weak_from_this());
    WriteNext();
  }

 public:
  void WriteNext() {
    if (writing_ || closing_ || finished_) return;
    std::vector<LiveFrame> frames;
    if (subscription_->PopBatch(kMaxWriteFrames, kMaxWriteBytes, &frames)) {
      WriteFrames(std::move(frames));
    }
  }

 protected:
  // Starts writing `frames`. REQUIRES: no write in flight.
  void WriteFrames(std::vector<LiveFrame> frames) {
    writing_ = true;
    write_started_.store(Clock::now().time_since_epoch().count(),
                         std::memory_order_relaxed);
    const size_t count = frames.size();
    self().Write(std::move(frames),
                 [self = shared(), count](beast::error_code ec, size_t bytes) {
                   self->OnWrite(ec, count, bytes);
                 });
  }

  void OnWrite(beast::error_code ec, size_t frames, size_t bytes) {
    writing_ = false;
    write_started_.store(0, std::memory_order_relaxed);
    if (ec) return Finish();
    last_write_.store(Clock::now().time_since_epoch().count(),
                      std::memory_order_relaxed);
    hub_->metrics().frames->Increment(frames);
    hub_->metrics().bytes->Increment(bytes);
    WriteNext();
  }

  // When bytes were last written; from any thread.
  Clock::time_point last_write() const {
    return Clock::time_point(
        Clock::duration(last_write_.load(std::memory_order_relaxed)));
  }

  // Closing has its own deadline (close_timer_).
  void OnTick() {
    if (closing_ || finished_) return;
    const LiveOptions& options = hub_->options();
    const auto now = Clock::now();
    if (writing_ && now - Clock::time_point(Clock::duration(
                              write_started_.load(std::memory_order_relaxed))) >=
                        ToChrono(options.slow_consumer_timeout)) {
      hub_->metrics().slow_consumer_closes->Increment();
      self().CloseWith(kCloseSlowConsumer, "slow consumer");
    } else {
      self().Idle(now - last_write());
    }
  }

  // Marks the connection closing (once); false when it already was. The
  // connection is dropped if the close is not done by close_timeout (or
  // kStopCloseWait when the server stops).
  bool BeginClose(uint16_t code) {
    if (closing_ || finished_) return false;
    closing_ = true;
    close_timer_ = std::make_unique<net::steady_timer>(self().executor());
    close_timer_->expires_after(
        code == kCloseGoingAway
            ? std::chrono::duration_cast<Clock::duration>(kStopCloseWait)
            : std::chrono::duration_cast<Clock::duration>(
                  ToChrono(hub_->options().close_timeout)));
    // The client does not answer the close (or does not read it).
    close_timer_->async_wait([self = shared()](beast::error_code ec) {
      if (ec || self->finished_) return;
      self->self().Drop();
    });
    hub_->metrics().closes->WithLabels({std::to_string(code)})->Increment();
    return true;
  }

  // The connection is over: free the slot now, stop the tick.
  void Finish() {
    if (finished_) return;
    finished_ = true;
    if (close_timer_ != nullptr) close_timer_->cancel();
    subscription_->Close();
    self().Drop();
  }

  const std::shared_ptr<LiveSubscription> subscription_;
  LiveHub* const hub_;
  RequestHandler* const handler_;
  LiveTicker* const ticker_;
  std::unique_ptr<net::steady_timer> close_timer_;  // while closing
  bool writing_ = false;
  bool closing_ = false;
  bool finished_ = false;
  // Also read by the ticker's thread: when the write in flight started (0:
  // none), and when the last one ended.
  std::atomic<Clock::rep> write_started_{0};
  std::atomic<Clock::rep> last_write_{Clock::now().time_since_epoch().count()};
};

class WebSocketSession : public LiveConnection<WebSocketSession> {
 public:
  WebSocketSession(beast::tcp_stream&& stream, LiveAdmission admission,
                   LiveHub* hub, RequestHandler* handler, LiveTicker* ticker)
      : LiveConnection(admission.subscription, hub, handler, ticker),
        subprotocol_(std::move(admission.subprotocol)),
        ws_(std::move(stream)) {}

  net::any_io_executor executor() { return ws_.get_executor(); }

  void Run(http::request<http::string_body> request) {
    ws_.next_layer().SetOwner(weak_from_this());
    request_ = std::move(request);
    const LiveOptions& options = hub_->options();
    // Beast's timeouts bound the handshake and the close; the idle timeout
    // and the keep-alive pings are the tick's (Idle): Beast's would keep a
    // timer wait pending per connection, and count only what its own read
    // sees. (LiveSocket keeps the bare socket: no TCP stream timeouts.)
    websocket::stream_base::timeout timeout;
    timeout.handshake_timeout = ToChrono(options.handshake_timeout);
    timeout.idle_timeout = websocket::stream_base::none();
    timeout.keep_alive_pings = false;
    ws_.set_option(timeout);
    websocket::permessage_deflate deflate;
    deflate.server_enable = false;
    deflate.client_enable = false;
    ws_.set_option(deflate);
    ws_.read_message_max(options.max_message_bytes);
    ws_.set_option(websocket::stream_base::decorator(
        [protocol = subprotocol_](websocket::response_type& response) {
          response.set(http::field::server, "vigil");
          if (!protocol.empty()) {
            response.set(http::field::sec_websocket_protocol, protocol);
          }
        }));
    ws_.async_accept(request_, [self = shared()](beast::error_code ec) {
      self->OnAccept(ec);
    });
  }

  // Framed by LiveSocket, behind whatever Beast has queued.
  template <typename Handler>
  void Write(std::vector<LiveFrame> frames, Handler&& handler) {
    ws_.next_layer().WriteFrames(
        std::move(frames),
        [this, handler = std::forward<Handler>(handler)](
            beast::error_code ec, size_t bytes) mutable {
          handler(ec, bytes);  // holds the session
          if (close_pending_) SendClose();
        });
  }

  void CloseWith(uint16_t code, const char* reason) {
    if (!BeginClose(code)) return;
    close_reason_ = websocket::close_reason(
        static_cast<websocket::close_code>(code), reason);
    // After the batch in flight, if any, as Beast does with its own writes:
    // Beast's close timeout (handshake_timeout) runs from the close frame.
    if (writing_) {
      close_pending_ = true;
    } else {
      SendClose();
    }
    // Reading on receives the client's answer to the close.
    if (!reading_) Read();
  }

  // Idle has something to do: half the idle timeout without a byte from
  // the client. From the ticker's thread.
  bool IdleDue(Clock::time_point now) const {
    return now - ws_.next_layer().last_received() >=
           ToChrono(hub_->options().idle_timeout) / 2;
  }

  // A ping after half the idle timeout without a byte from the client (its
  // pong counts), and the connection dropped when nothing came for another
  // half after the ping (so never without a ping, however late a tick).
  void Idle(Clock::duration) {
    const auto now = Clock::now();
    const auto received = ws_.next_layer().last_received();
    const auto half = ToChrono(hub_->options().idle_timeout) / 2;
    if (pinged_for_ == received) {
      // The wait or read in flight then fails, and the connection ends.
      if (now - pinged_at_ >= half) Drop();
    } else if (now - received >= half) {
      pinged_for_ = received;
      pinged_at_ = now;
      ws_.async_ping({}, [self = shared()](beast::error_code) {});
    }
  }

  void Drop() {
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).shutdown(
        net::ip::tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(ws_).close(ignored);
  }

 private:
  void OnAccept(beast::error_code ec) {
    if (ec) {
      handler_->RecordLive(LiveKind::kWebSocket, 400);
      return Finish();
    }
    handler_->RecordLive(LiveKind::kWebSocket, 101);
    request_ = {};
    Begin();
    Service();
  }

  // Between messages, no Beast read in flight: answers the pings and
  // counts the pongs waiting on the socket, then waits for more (holding no
  // read and no buffer while the client is silent) or has Beast read the
  // next frame.
  void Service() {
    if (finished_) return;
    if (closing_) return Read();
    std::optional<std::string> ping;
    const LiveSocket::Input input =
        ws_.next_layer().TakeControlFrames(!ponging_, &ping);
    if (ping.has_value()) {
      // One pong at a time: a ping meanwhile is Beast's read's to answer.
      ponging_ = true;
      ws_.async_pong(websocket::ping_data(ping->data(), ping->size()),
                     [self = shared()](beast::error_code) {
                       self->ponging_ = false;
                     });
    }
    if (input == LiveSocket::Input::kFrame) return Read();
    ws_.next_layer().AsyncWaitInput(
        [self = shared()](beast::error_code ec, size_t) {
          // A read started meanwhile (by a close) has the input.
          if (self->reading_) return;
          if (ec) return self->Finish();
          self->Service();
        });
  }

  void SendClose() {
    close_pending_ = false;
    ws_.async_close(close_reason_, [self = shared()](beast::error_code) {});
  }

  void Read() {
    reading_ = true;
    ws_.async_read(input_, [self = shared()](beast::error_code ec, size_t) {
      self->OnRead(ec);
    });
  }

  void OnRead(beast::error_code ec) {
    reading_ = false;
    // Closed by the client, a protocol error (Beast has sent the close
    // code: 1002, 1007, 1009), the idle timeout, or our own close.
    if (ec) return Finish();
    const absl::Time now = absl::Now();
    LiveSubscription::Verdict verdict;
    if (ws_.got_text()) {
      const auto data = input_.cdata();
      verdict = subscription_->OnClientMessage(
          std::string_view(static_cast<const char*>(data.data()), data.size()),
          now);
    } else {
      verdict = subscription_->OnBinaryMessage(now);
    }
    // Between messages: a large one's buffer is not kept.
    if (input_.capacity() > kKeepInputBytes) {
      input_ = beast::flat_buffer();
    } else {
      input_.consume(input_.size());
    }
    if (verdict == LiveSubscription::Verdict::kTooMany) {
      CloseWith(kCloseTooManyMessages, "too many messages");
    }
    if (!reading_) Service();
  }

  const std::string subprotocol_;
  websocket::stream<LiveSocket> ws_;
  websocket::close_reason close_reason_;
  bool close_pending_ = false;
  bool reading_ = false;  // a Beast read is in flight
  bool ponging_ = false;  // a pong of ours is being written
  Clock::time_point pinged_for_;  // last_received() when we last pinged
  Clock::time_point pinged_at_;
  http::request<http::string_body> request_;
  beast::flat_buffer input_;
};

// Server-Sent Events: the response header, then one record per frame,
// delimited by the end of the connection. Input after the request is read
// and discarded only to notice the client leaving.
class SseSession : public LiveConnection<SseSession> {
 public:
  SseSession(beast::tcp_stream&& stream, LiveAdmission admission,
             LiveHub* hub, RequestHandler* handler, LiveTicker* ticker)
      : LiveConnection(admission.subscription, hub, handler, ticker),
        stream_(std::move(stream)) {}

  net::any_io_executor executor() { return stream_.get_executor(); }

  void Run(unsigned version) {
    stream_.expires_never();
    header_ = std::make_shared<const std::string>(
        std::string(version == 10 ? "HTTP/1.0" : "HTTP/1.1") +
        " 200 OK\r\n"
        "Server: vigil\r\n"
        "Content-Type: text/event-stream\r\n"
        "Cache-Control: no-cache\r\n"
        "X-Accel-Buffering: no\r\n"
        "Connection: close\r\n\r\n"
        // The client's reconnection delay, in milliseconds.
        "retry: 1000\n\n");
    handler_->RecordLive(LiveKind::kSse, 200);
    WriteFrames({LiveFrame{header_, false, 0}});
    Begin();
    Drain();
  }

  // The records one after another, in one gather write.
  template <typename Handler>
  void Write(std::vector<LiveFrame> frames, Handler&& handler) {
    writing_frames_ = std::move(frames);
    buffers_.clear();
    for (const LiveFrame& frame : writing_frames_) {
      buffers_.push_back(net::buffer(*frame.payload));
    }
    net::async_write(stream_, buffers_,
                     [this, handler = std::forward<Handler>(handler)](
                         beast::error_code ec, size_t bytes) mutable {
                       writing_frames_.clear();
                       handler(ec, bytes);
                     });
  }

  // SSE has no close code: a slow consumer's connection is dropped.
  void CloseWith(uint16_t code, const char*) {
    if (BeginClose(code)) Drop();
  }

  // Idle has something to do; from the ticker's thread.
  bool IdleDue(Clock::time_point now) const {
    return now - last_write() >= ToChrono(hub_->options().idle_timeout) / 2;
  }

  // A comment line now and then keeps proxies from timing the stream out.
  void Idle(Clock::duration idle) {
    if (writing_ || idle < ToChrono(hub_->options().idle_timeout) / 2) return;
    WriteFrames({LiveFrame{keepalive_, false, 0}});
  }

  void Drop() {
    beast::error_code ignored;
    stream_.socket().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
  }

 private:
  void Drain() {
    stream_.async_read_some(
        net::buffer(drain_), [self = shared()](beast::error_code ec, size_t) {
          if (ec) return self->Finish();
          self->Drain();
        });
  }

  beast::tcp_stream stream_;
  std::shared_ptr<const std::string> header_;
  const std::shared_ptr<const std::string> keepalive_ =
      std::make_shared<const std::string>(":\n\n");
  std::array<char, 1024> drain_;
  std::vector<LiveFrame> writing_frames_;  // the records being written
  std::vector<net::const_buffer> buffers_;
};

}  // namespace

void RunLiveWebSocket(beast::tcp_stream stream,
                      http::request<http::string_body> request,
                      LiveAdmission admission, LiveHub* hub,
                      RequestHandler* handler, LiveTicker* ticker) {
  auto session = std::make_shared<WebSocketSession>(
      std::move(stream), std::move(admission), hub, handler, ticker);
  session->Run(std::move(request));
}

void RunLiveSse(beast::tcp_stream stream, unsigned version,
                LiveAdmission admission, LiveHub* hub,
                RequestHandler* handler, LiveTicker* ticker) {
  auto session = std::make_shared<SseSession>(
      std::move(stream), std::move(admission), hub, handler, ticker);
  session->Run(version);
}

}  // namespace vigil::gateway::internal
