// The Beast side of HttpServer, modelled on Boost.Beast's
// example/websocket/server/chat-multi: SharedState (what all connections
// share), Listener (accepts), HttpSession (one per connection). All of Beast
// is in this one translation unit, because each Beast TU costs ~40 s and
// 1.4 GB to compile; what happens to a request once read is in
// internal/request_handler.cc. Beast is used through its error_code
// overloads only. Over ~500 lines as one concept, the connection's life in
// Beast (accept, read, write, upgrade, close); splitting it would multiply
// the Beast translation units that make the build slow.

#include <utility>  // before Asio: Boost 1.74 needs std::exchange declared

#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <atomic>
#include <charconv>
#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gateway/http_server.h"
#include "gateway/internal/live_hub.h"
#include "gateway/internal/live_session.h"
#include "gateway/internal/request_handler.h"

namespace vigil::gateway {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

using internal::HttpRequest;
using internal::HttpResponse;
using internal::LiveAdmission;
using internal::LiveHub;
using internal::LiveKind;
using internal::ReadError;
using internal::RequestHandler;

// After an error response the server closes the connection, but first reads
// and discards what the client is still sending for up to this long, so the
// close does not become a TCP reset that destroys the response unread.
constexpr auto kLingerTime = std::chrono::seconds(2);
// After a failed accept (e.g. out of file descriptors), wait before the
// next one instead of spinning.
constexpr auto kAcceptBackoff = std::chrono::milliseconds(100);
// Beast receives at most the read buffer's free capacity (at least 512 B)
// per call, and the parser empties the buffer into the body as it goes, so
// a buffer left at the header's size reads a 400 KB body in ~700 receives.
// A body larger than kSmallBody is read through a buffer of kBodyReadChunk
// (Beast's own cap per receive), given back once the body is read, so an
// idle connection keeps only what its headers needed.
constexpr size_t kSmallBody = 8 * 1024;
constexpr size_t kBodyReadChunk = 64 * 1024;

std::chrono::milliseconds ToChrono(absl::Duration duration) {
  return absl::ToChronoMilliseconds(duration);
}

class HttpSession;

// What every connection shares: the handler, the options, the set of open
// sessions (so Stop can reach them) and the connection metrics.
// Thread-safe.
class SharedState {
 public:
  SharedState(const HttpServerOptions& options, RequestHandler* handler,
              LiveHub* live, internal::LiveTicker* ticker, Metrics* metrics)
      : options_(options),
        handler_(handler),
        live_(live),
        ticker_(ticker),
        connections_(
            metrics
                ->AddGauge("vigil_http_connections", "Open HTTP connections.")
                ->Get()),
        rejected_(metrics
                      ->AddCounter("vigil_http_connections_rejected_total",
                                   "HTTP connections answered 503 and closed "
                                   "because max_connections were open.")
                      ->Get()),
        timeouts_(metrics
                      ->AddCounter("vigil_http_timeouts_total",
                                   "HTTP connections closed because a read "
                                   "or write timed out (idle keep-alive "
                                   "connections included).")
                      ->Get()) {}

  const HttpServerOptions& options() const { return options_; }
  RequestHandler* handler() const { return handler_; }
  LiveHub* live() const { return live_; }
  internal::LiveTicker* ticker() const { return ticker_; }
  Counter* timeouts() const { return timeouts_; }

  // Registers an accepted connection; false when max_connections are open
  // or the server is stopping (the caller then rejects it).
  bool TryJoin(const std::shared_ptr<HttpSession>& session) {
    absl::MutexLock lock(&mu_);
    if (stopping_ || sessions_.size() >= options_.max_connections) {
      rejected_->Increment();
      return false;
    }
    sessions_[session.get()] = session;
    connections_->Set(static_cast<double>(sessions_.size()));
    return true;
  }

  void Leave(HttpSession* session) {
    absl::MutexLock lock(&mu_);
    if (sessions_.erase(session) > 0) {
      connections_->Set(static_cast<double>(sessions_.size()));
    }
  }

  // Refuses new sessions and returns the open ones (as in chat-multi,
  // weak pointers are copied under the lock and used outside it).
  std::vector<std::shared_ptr<HttpSession>> BeginStop() {
    std::vector<std::weak_ptr<HttpSession>> weak;
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
      for (const auto& [raw, session] : sessions_) weak.push_back(session);
    }
    std::vector<std::shared_ptr<HttpSession>> open;
    for (const auto& session : weak) {
      if (auto strong = session.lock()) open.push_back(std::move(strong));
    }
    return open;
  }

  // True when every session is gone within `timeout`.
  bool WaitEmpty(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto empty = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return sessions_.empty();
    };
    return mu_.AwaitWithTimeout(absl::Condition(&empty), timeout);
  }

 private:
  const HttpServerOptions options_;
  RequestHandler* const handler_;
  LiveHub* const live_;
  internal::LiveTicker* const ticker_;
  Gauge* const connections_;
  Counter* const rejected_;
  Counter* const timeouts_;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_map<HttpSession*, std::weak_ptr<HttpSession>> sessions_
      ABSL_GUARDED_BY(mu_);
};

// One connection. Everything runs on the connection's strand (the socket's
// executor); the session lives as long as an operation or a pending
// response holds a shared_ptr to it. One request at a time: the next one
// (possibly pipelined, already in buffer_) is read only after the response
// to this one is written.
class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket&& socket, std::shared_ptr<SharedState> state)
      : stream_(std::move(socket)),
        strand_(stream_.get_executor()),
        state_(std::move(state)) {}

  ~HttpSession() { state_->Leave(this); }

  void Run() {
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&HttpSession::ReadHeader,
                                            shared_from_this()));
  }

  // For a connection over max_connections: 503, then close.
  void Reject() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      self->Write(self->state_->handler()->TooManyConnections(),
                  /*keep_alive=*/false, /*linger=*/true);
    });
  }

  // From Stop: an idle connection closes now, a busy one after answering
  // its request (with Connection: close).
  void Shutdown() {
    // strand_, not stream_'s: a live session may have taken the stream.
    net::post(strand_, [self = shared_from_this()] {
      self->stopping_ = true;
      if (self->phase_ == Phase::kReadingHeader) self->stream_.cancel();
    });
  }

 private:
  enum class Phase { kReadingHeader, kReadingBody, kHandling, kWriting };

  void ReadHeader() {
    phase_ = Phase::kReadingHeader;
    if (stopping_) return Close();
    const HttpServerOptions& options = state_->options();
    method_.clear();
    target_.clear();
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(options.max_header_bytes));
    parser_->body_limit(options.traces != nullptr
                            ? std::max(options.max_body_bytes,
                                       options.otlp_max_body_bytes)
                            : options.max_body_bytes);
    stream_.expires_after(ToChrono(options.idle_timeout));
    http::async_read_header(
        stream_, buffer_, *parser_,
        beast::bind_front_handler(&HttpSession::OnReadHeader,
                                  shared_from_this()));
  }

  void OnReadHeader(beast::error_code ec, size_t /*bytes*/) {
    if (ec) return OnReadError(ec);
    const auto& header = parser_->get();
    method_ = std::string(header.method_string().data(),
                          header.method_string().size());
    target_ = std::string(header.target().data(), header.target().size());
    // The body limit of the route (ReadHeader set the larger of the two,
    // which Beast checked against Content-Length already).
    const HttpServerOptions& options = state_->options();
    const size_t limit =
        options.traces != nullptr &&
                std::string_view(target_).substr(0, target_.find('?')) ==
                    "/v1/traces"
            ? options.otlp_max_body_bytes
            : options.max_body_bytes;
    if (const auto length = parser_->content_length();
        length.has_value() && *length > limit) {
      return Unreadable(ReadError::kBodyTooLarge);
    }
    parser_->body_limit(limit);
    if (parser_->is_done()) return Dispatch();
    const auto expect = header[http::field::expect];
    if (beast::iequals(expect, "100-continue")) {
      // The client waits for this before sending the body.
      phase_ = Phase::kReadingBody;
      continue_ = {};
      continue_.version(11);
      continue_.result(http::status::continue_);
      stream_.expires_after(ToChrono(state_->options().write_timeout));
      return http::async_write(
          stream_, continue_,
          beast::bind_front_handler(&HttpSession::OnWriteContinue,
                                    shared_from_this()));
    }
    ReadBody();
  }

  void OnWriteContinue(beast::error_code ec, size_t /*bytes*/) {
    if (ec) return OnNetworkError(ec);
    ReadBody();
  }

  void ReadBody() {
    phase_ = Phase::kReadingBody;
    if (const auto length = parser_->content_length();
        !length.has_value() || *length > kSmallBody) {
      buffer_.reserve(kBodyReadChunk);
    }
    stream_.expires_after(ToChrono(state_->options().read_timeout));
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&HttpSession::OnReadBody,
                                               shared_from_this()));
  }

  void OnReadBody(beast::error_code ec, size_t /*bytes*/) {
    if (buffer_.capacity() > kSmallBody) buffer_.shrink_to_fit();
    if (ec) return OnReadError(ec);
    Dispatch();
  }

  // A read failed: a timeout or a vanished client closes quietly; a request
  // that cannot be read is answered (431, 413, 400) and the connection
  // closed, since what follows it in the byte stream is unknown.
  void OnReadError(beast::error_code ec) {
    if (ec == http::error::header_limit) {
      return Unreadable(ReadError::kHeaderTooLarge);
    }
    if (ec == http::error::body_limit) {
      return Unreadable(ReadError::kBodyTooLarge);
    }
    if (ec.category() == http::make_error_code(http::error::bad_method)
                             .category() &&
        ec != http::error::end_of_stream && ec != http::error::partial_message) {
      return Unreadable(ReadError::kMalformed);
    }
    OnNetworkError(ec);
  }

  void Unreadable(ReadError error) {
    if (method_.empty() && parser_.has_value()) {
      // What the parser got of the start line, for the metrics' labels.
      const auto& header = parser_->get();
      method_ = std::string(header.method_string().data(),
                            header.method_string().size());
      target_ = std::string(header.target().data(), header.target().size());
    }
    Write(state_->handler()->Unreadable(error, method_, target_),
          /*keep_alive=*/false, /*linger=*/true);
  }

  void OnNetworkError(beast::error_code ec) {
    if (ec == beast::error::timeout) state_->timeouts()->Increment();
    Close();
  }

  void Dispatch() {
    phase_ = Phase::kHandling;
    auto& message = parser_->get();
    keep_alive_ = message.keep_alive();
    version_ = message.version();
    HttpRequest request;
    request.method = std::move(method_);
    request.target = std::move(target_);
    for (const auto& field : message) {
      std::string name(field.name_string().data(), field.name_string().size());
      for (char& c : name) c = static_cast<char>(std::tolower(c));
      request.headers.emplace_back(
          std::move(name),
          std::string(field.value().data(), field.value().size()));
    }
    if (const LiveKind live = state_->handler()->Live(request);
        live != LiveKind::kNone) {
      return Upgrade(live, request);
    }
    request.body = std::move(message.body());
    parser_.reset();
    // The handler may answer from another thread; the response comes back
    // to this connection's strand. The callback hands its reference to the
    // posted handler, so whoever destroys the callback later (the log's
    // completion thread, a reader thread, perhaps after the io_context is
    // gone) no longer holds the session: it only ever dies on its strand or
    // with the io_context.
    state_->handler()->Handle(
        std::move(request),
        [self = shared_from_this()](HttpResponse response) mutable {
          const auto strand = self->stream_.get_executor();
          net::post(strand, [self = std::move(self),
                             response = std::move(response)]() mutable {
            self->Write(std::move(response),
                        self->keep_alive_ && !self->stopping_,
                        /*linger=*/false);
          });
        });
  }

  // GET /v1/live (WebSocket) and /v1/live/sse: refused over HTTP, or the
  // connection is handed to a live session and this one ends.
  void Upgrade(LiveKind kind, const HttpRequest& request) {
    LiveAdmission admission = state_->handler()->AdmitLive(request, kind);
    if (admission.subscription == nullptr) {
      parser_.reset();
      return Write(std::move(admission.refusal), /*keep_alive=*/false,
                   /*linger=*/true);
    }
    // From here the live session owns the connection (the hub counts it
    // and stops it); phase_ stays kHandling, so Shutdown leaves it alone.
    state_->Leave(this);
    if (const size_t bytes = state_->options().live.send_buffer_bytes;
        bytes > 0) {
      beast::error_code ignored;
      stream_.socket().set_option(
          net::socket_base::send_buffer_size(static_cast<int>(bytes)), ignored);
    }
    if (kind == LiveKind::kWebSocket) {
      internal::RunLiveWebSocket(std::move(stream_), parser_->release(),
                                 std::move(admission), state_->live(),
                                 state_->handler(), state_->ticker());
    } else {
      internal::RunLiveSse(std::move(stream_), version_, std::move(admission),
                           state_->live(), state_->handler(),
                           state_->ticker());
    }
    parser_.reset();
  }

  void Write(HttpResponse response, bool keep_alive, bool linger) {
    phase_ = Phase::kWriting;
    response_ = {};
    response_.version(version_);
    response_.result(static_cast<unsigned>(response.status));
    response_.set(http::field::server, "vigil");
    response_.set(http::field::content_type, response.content_type);
    for (const auto& [name, value] : response.headers) {
      response_.set(name, value);
    }
    response_.body() = std::move(response.body);
    response_.keep_alive(keep_alive);
    response_.prepare_payload();
    stream_.expires_after(ToChrono(state_->options().write_timeout));
    http::async_write(stream_, response_,
                      beast::bind_front_handler(&HttpSession::OnWrite,
                                                shared_from_this(), keep_alive,
                                                linger));
  }

  void OnWrite(bool keep_alive, bool linger, beast::error_code ec,
               size_t /*bytes*/) {
    if (ec) return OnNetworkError(ec);
    if (keep_alive) return ReadHeader();
    if (linger) return Linger();
    Close();
  }

  // Half-closes, then discards input until the client closes too or
  // kLingerTime passes.
  void Linger() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(kLingerTime);
    Drain();
  }

  void Drain() {
    stream_.async_read_some(
        net::buffer(drain_),
        [self = shared_from_this()](beast::error_code ec, size_t /*bytes*/) {
          if (ec) return self->Close();
          self->Drain();
        });
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  beast::tcp_stream stream_;
  const net::any_io_executor strand_;
  beast::flat_buffer buffer_;
  const std::shared_ptr<SharedState> state_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::empty_body> continue_;
  http::response<http::string_body> response_;  // the one being written
  std::array<char, 4096> drain_;

  Phase phase_ = Phase::kReadingHeader;
  bool stopping_ = false;
  bool keep_alive_ = false;
  unsigned version_ = 11;
  std::string method_;  // of the request being read, for the metrics
  std::string target_;
};

// Accepts connections, each onto a strand of its own. Its own operations
// run on the acceptor's strand.
class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(net::io_context& ioc, tcp::acceptor acceptor,
           std::shared_ptr<SharedState> state)
      : ioc_(ioc),
        acceptor_(std::move(acceptor)),
        backoff_(acceptor_.get_executor()),
        state_(std::move(state)) {}

  void Run() {
    net::dispatch(acceptor_.get_executor(),
                  beast::bind_front_handler(&Listener::Accept,
                                            shared_from_this()));
  }

  void Stop() {
    net::post(acceptor_.get_executor(),
              [self = shared_from_this()] { self->Close(); });
  }

  // Also called directly once no thread runs the io_context any more.
  void Close() {
    beast::error_code ignored;
    acceptor_.close(ignored);
    backoff_.cancel();
  }

 private:
  void Accept() {
    if (!acceptor_.is_open()) return;
    acceptor_.async_accept(
        net::make_strand(ioc_),
        beast::bind_front_handler(&Listener::OnAccept, shared_from_this()));
  }

  void OnAccept(beast::error_code ec, tcp::socket socket) {
    if (!acceptor_.is_open()) return;
    if (ec) {
      backoff_.expires_after(kAcceptBackoff);
      backoff_.async_wait([self = shared_from_this()](beast::error_code) {
        self->Accept();
      });
      return;
    }
    beast::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    auto session = std::make_shared<HttpSession>(std::move(socket), state_);
    if (state_->TryJoin(session)) {
      session->Run();
    } else {
      session->Reject();
    }
    Accept();
  }

  net::io_context& ioc_;
  tcp::acceptor acceptor_;
  net::steady_timer backoff_;
  const std::shared_ptr<SharedState> state_;
};

// "host:port" or "[v6]:port" into an endpoint; "localhost" is 127.0.0.1.
absl::StatusOr<tcp::endpoint> ParseListen(const std::string& listen,
                                          bool loopback_only) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError("listen address \"" + listen +
                                      "\" is not host:port");
  }
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const std::string port_text = listen.substr(colon + 1);
  uint16_t port = 0;
  auto [end, ec] = std::from_chars(
      port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() ||
      end != port_text.data() + port_text.size()) {
    return absl::InvalidArgumentError("listen address \"" + listen +
                                      "\" has a bad port");
  }
  if (host == "localhost") host = "127.0.0.1";
  beast::error_code parse_error;
  net::ip::address address = net::ip::make_address(host, parse_error);
  if (parse_error) {
    return absl::InvalidArgumentError("listen address \"" + listen +
                                      "\": " + parse_error.message());
  }
  if (loopback_only && !address.is_loopback()) {
    return absl::InvalidArgumentError(
        "listen address \"" + listen +
        "\" is not loopback: without tokens the HTTP server listens on "
        "loopback only");
  }
  return tcp::endpoint(address, port);
}

absl::Status CheckOptions(const HttpServerOptions& options) {
  if (options.io_threads < 1 || options.read_threads < 1) {
    return absl::InvalidArgumentError(
        "io_threads and read_threads must be at least 1");
  }
  if (options.max_connections < 1 || options.max_header_bytes < 1 ||
      options.max_body_bytes < 1 || options.max_inflight_appends < 1) {
    return absl::InvalidArgumentError(
        "max_connections, max_header_bytes, max_body_bytes and "
        "max_inflight_appends must be positive");
  }
  if (options.max_header_bytes > UINT32_MAX) {
    return absl::InvalidArgumentError("max_header_bytes must fit 32 bits");
  }
  for (const std::string& origin : options.live.allowed_origins) {
    const size_t scheme = origin.find("://");
    if (scheme == std::string::npos || scheme == 0 ||
        origin.find('/', scheme + 3) != std::string::npos ||
        origin.size() == scheme + 3) {
      return absl::InvalidArgumentError(
          "allowed origin \"" + origin +
          "\" is not scheme://host[:port] (no path, no trailing slash)");
    }
  }
  if (options.live.max_connections < 1 ||
      options.live.max_connections_per_token < 1 ||
      options.live.max_queue_frames < 2 || options.live.max_queue_bytes < 1 ||
      options.live.page_events < 1 || options.live.reader_threads < 1 ||
      options.live.max_message_bytes < 1) {
    return absl::InvalidArgumentError(
        "live options: connection caps, page_events, reader_threads and "
        "max_message_bytes must be positive, max_queue_frames at least 2");
  }
  if (options.default_read_limit < 1 ||
      options.default_read_limit > options.max_read_limit) {
    return absl::InvalidArgumentError(
        "default_read_limit must be between 1 and max_read_limit");
  }
  return absl::OkStatus();
}

}  // namespace

class HttpServer::Impl {
 public:
  Impl(const HttpServerOptions& options, eventlog::EventLog* log,
       Metrics* metrics)
      : options_(options),
        live_(log, options.live, metrics),
        handler_(options, log, &live_, metrics),
        state_(std::make_shared<SharedState>(options, &handler_, &live_,
                                             &live_ticker_, metrics)),
        ioc_(options.io_threads),
        work_(ioc_.get_executor()) {}

  ~Impl() { Stop(); }

  absl::Status Bind(const tcp::endpoint& endpoint) {
    tcp::acceptor acceptor(net::make_strand(ioc_));
    beast::error_code ec;
    const auto fail = [&](const char* what) {
      return absl::UnavailableError("HTTP server: cannot " + std::string(what) +
                                    " " + options_.listen + ": " +
                                    ec.message());
    };
    if (acceptor.open(endpoint.protocol(), ec)) return fail("open");
    if (acceptor.set_option(net::socket_base::reuse_address(true), ec)) {
      return fail("configure");
    }
    if (acceptor.bind(endpoint, ec)) return fail("bind");
    if (acceptor.listen(net::socket_base::max_listen_connections, ec)) {
      return fail("listen on");
    }
    port_ = acceptor.local_endpoint(ec).port();
    if (ec) return fail("read the port of");
    handler_.SetPort(port_);
    listener_ = std::make_shared<Listener>(ioc_, std::move(acceptor), state_);
    return absl::OkStatus();
  }

  void Run() {
    live_ticker_.Start(net::make_strand(ioc_));
    listener_->Run();
    threads_.reserve(options_.io_threads);
    for (int i = 0; i < options_.io_threads; ++i) {
      threads_.emplace_back([this] { ioc_.run(); });
    }
  }

  uint16_t port() const { return port_; }

  void BeginShutdown() { handler_.SetReady(false); }

  void Stop() {
    if (stopped_) return;
    stopped_ = true;
    handler_.SetReady(false);
    if (listener_ != nullptr) listener_->Stop();
    for (const auto& session : state_->BeginStop()) session->Shutdown();
    // Live connections get a close (1001), then have as long as the rest.
    live_.Stop();
    // In-flight requests are answered (with Connection: close); past the
    // timeout the rest are cut off with the io_context.
    const absl::Time deadline = absl::Now() + options_.shutdown_timeout;
    state_->WaitEmpty(options_.shutdown_timeout);
    live_.WaitEmpty(std::max(deadline - absl::Now(), absl::ZeroDuration()));
    work_.reset();
    ioc_.stop();
    for (std::thread& thread : threads_) thread.join();
    threads_.clear();
    live_ticker_.Stop();
    // The posted close may not have run before the threads stopped.
    if (listener_ != nullptr) listener_->Close();
    // Appends and reads still running answer into the stopped io_context,
    // which drops their responses; they must be done before it goes away.
    handler_.WaitIdle();
  }

 private:
  const HttpServerOptions options_;
  LiveHub live_;  // outlives the sessions, which die with ioc_
  // Its timer is dropped by Stop, before ioc_ goes.
  internal::LiveTicker live_ticker_;
  RequestHandler handler_;
  const std::shared_ptr<SharedState> state_;
  net::io_context ioc_;  // destroyed before state_ and handler_
  // Keeps the threads in ioc_.run() while no operation is pending, e.g.
  // during Stop when the only work left is a response still to come from
  // the log.
  net::executor_work_guard<net::io_context::executor_type> work_;
  std::shared_ptr<Listener> listener_;
  std::vector<std::thread> threads_;
  uint16_t port_ = 0;
  bool stopped_ = false;
};

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    HttpServerOptions options, eventlog::EventLog* log, Metrics* metrics) {
  if (absl::Status status = CheckOptions(options); !status.ok()) return status;
  absl::StatusOr<tcp::endpoint> endpoint = ParseListen(
      options.listen, options.authenticator == nullptr ||
                          options.authenticator->anonymous_mode());
  if (!endpoint.ok()) return endpoint.status();
  auto impl = std::make_unique<Impl>(options, log, metrics);
  if (absl::Status status = impl->Bind(*endpoint); !status.ok()) return status;
  impl->Run();
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() = default;

uint16_t HttpServer::port() const { return impl_->port(); }

void HttpServer::BeginShutdown() { impl_->BeginShutdown(); }

void HttpServer::Stop() { impl_->Stop(); }

}  // namespace vigil::gateway
