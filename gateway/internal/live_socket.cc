#include "gateway/internal/live_socket.h"

#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <limits>

namespace vigil::gateway::internal {

namespace net = boost::asio;

void LiveSocket::WriteFrames(std::vector<LiveFrame> frames,
                             WriteHandler done) {
  if (error_) {
    net::post(stream_.get_executor(),
              [done = std::move(done), ec = error_] { done(ec, 0); });
    return;
  }
  frames_ = std::move(frames);
  done_ = std::move(done);
  Flush();
}

void LiveSocket::AfterFlush(std::function<void()> then) {
  if (error_ || (!writing_ && control_.empty() && frames_.empty())) {
    then();
    return;
  }
  after_flush_ = std::move(then);
}

void LiveSocket::Flush() {
  if (writing_ || error_) return;
  if (control_.empty() && frames_.empty() && done_ == nullptr) {
    if (after_flush_ != nullptr) std::exchange(after_flush_, nullptr)();
    return;
  }
  std::shared_ptr<void> owner = owner_.lock();
  if (owner == nullptr) return;  // the connection is being destroyed
  writing_ = true;
  writing_control_.swap(control_);
  writing_waiters_.swap(control_waiters_);
  writing_frames_.swap(frames_);
  writing_done_ = std::exchange(done_, nullptr);
  // Beast's bytes (a pong, a close) go first: they were queued before.
  headers_.resize(writing_frames_.size() * kMaxWebSocketHeaderBytes);
  buffers_.clear();
  buffers_.reserve(1 + 2 * writing_frames_.size());
  if (!writing_control_.empty()) buffers_.push_back(net::buffer(writing_control_));
  writing_payload_bytes_ = 0;
  for (size_t i = 0; i < writing_frames_.size(); ++i) {
    const std::string& payload = *writing_frames_[i].payload;
    uint8_t* header = headers_.data() + i * kMaxWebSocketHeaderBytes;
    buffers_.push_back(net::buffer(
        header,
        WebSocketFrameHeader(payload.size(), writing_frames_[i].binary, header)));
    buffers_.push_back(net::buffer(payload));
    writing_payload_bytes_ += payload.size();
  }
  net::async_write(stream_, buffers_,
                   [op = WriteOp(this, std::move(owner))](
                       boost::beast::error_code ec, size_t) mutable {
                     op.Complete(ec);
                   });
}

LiveSocket::WriteOp::~WriteOp() {
  // Destroyed without completing (the io_context is going away): the
  // handlers kept here hold the connection that owns this socket, so they
  // are let go, or the connection would keep itself alive. `owner_` still
  // holds the connection meanwhile.
  if (owner_ != nullptr) socket_->Abandon();
}

void LiveSocket::WriteOp::Complete(boost::beast::error_code ec) {
  std::shared_ptr<void> owner = std::move(owner_);
  socket_->OnWritten(ec);
}

void LiveSocket::Abandon() {
  control_waiters_.clear();
  writing_waiters_.clear();
  done_ = nullptr;
  writing_done_ = nullptr;
  after_flush_ = nullptr;
}

void LiveSocket::OnWritten(boost::beast::error_code ec) {
  writing_ = false;
  if (ec) error_ = ec;
  writing_frames_.clear();
  // Idle connections keep no buffers (10,000 of them at once, README).
  if (writing_control_.capacity() > 1024) {
    std::string().swap(writing_control_);
  } else {
    writing_control_.clear();
  }
  for (auto& waiter : std::exchange(writing_waiters_, {})) waiter(ec);
  if (WriteHandler done = std::exchange(writing_done_, nullptr)) {
    done(ec, writing_payload_bytes_);
  }
  if (error_) {
    // What was queued behind the failed write fails with it.
    frames_.clear();
    control_.clear();
    for (auto& waiter : std::exchange(control_waiters_, {})) waiter(error_);
    if (WriteHandler done = std::exchange(done_, nullptr)) done(error_, 0);
    if (after_flush_ != nullptr) std::exchange(after_flush_, nullptr)();
    return;
  }
  Flush();
}

namespace {

// Reads and drops what the client sends until it closes its half (or the
// socket fails), then closes the socket and calls `done`.
void DrainAndClose(LiveSocket::next_layer_type& stream,
                   std::shared_ptr<std::array<char, 2048>> buffer,
                   std::function<void(boost::beast::error_code)> done) {
  stream.async_read_some(
      net::buffer(*buffer),
      [&stream, buffer, done = std::move(done)](boost::beast::error_code ec,
                                                size_t) mutable {
        if (!ec) return DrainAndClose(stream, std::move(buffer), std::move(done));
        boost::beast::error_code ignored;
        stream.close(ignored);
        done(ec == net::error::eof ? boost::beast::error_code() : ec);
      });
}

}  // namespace

void LiveSocket::Teardown(std::function<void(boost::beast::error_code)> done) {
  boost::beast::error_code ec;
  stream_.shutdown(net::socket_base::shutdown_send, ec);
  if (ec) {
    boost::beast::error_code ignored;
    stream_.close(ignored);
    net::post(stream_.get_executor(),
              [done = std::move(done), ec] { done(ec); });
    return;
  }
  DrainAndClose(stream_, std::make_shared<std::array<char, 2048>>(),
                std::move(done));
}

size_t LiveSocket::ReadLimit() const {
  if (payload_left_ > 0) {
    return static_cast<size_t>(
        std::min<uint64_t>(payload_left_, std::numeric_limits<size_t>::max()));
  }
  if (header_bytes_ < 2) return 2 - header_bytes_;
  return WebSocketHeaderBytes(header_[1]) - header_bytes_;
}

void LiveSocket::Received(const uint8_t* data, size_t size) {
  if (size > 0) NoteReceived();
  for (size_t i = 0; i < size;) {
    if (payload_left_ > 0) {
      const size_t take = static_cast<size_t>(
          std::min<uint64_t>(payload_left_, size - i));
      payload_left_ -= take;
      i += take;
      continue;
    }
    header_[header_bytes_++] = data[i++];
    if (header_bytes_ >= 2 && header_bytes_ == WebSocketHeaderBytes(header_[1])) {
      payload_left_ = WebSocketPayloadBytes(header_);
      header_bytes_ = 0;
    }
  }
}

LiveSocket::Input LiveSocket::TakeControlFrames(
    bool take_ping, std::optional<std::string>* ping) {
  if (header_bytes_ != 0 || payload_left_ != 0) return Input::kFrame;
  const int fd = stream_.native_handle();
  // A control frame is at most 2 + 4 (mask) + 125 bytes.
  std::array<char, 131> bytes;
  for (;;) {
    ssize_t peeked;
    do {
      peeked = ::recv(fd, bytes.data(), bytes.size(), MSG_PEEK | MSG_DONTWAIT);
    } while (peeked < 0 && errno == EINTR);
    if (peeked < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return Input::kNone;
    }
    // The end of the stream or an error: Beast's read reports it.
    if (peeked <= 0) return Input::kFrame;
    ClientControlFrame frame;
    // A partial ping or pong is left to Beast's read too, which waits for
    // the rest (and then, rarely, stays pending until the next frame).
    if (ScanClientControlFrame(
            std::string_view(bytes.data(), static_cast<size_t>(peeked)),
            &frame) != ControlScan::kFrame ||
        (frame.ping && (!take_ping || ping->has_value()))) {
      return Input::kFrame;
    }
    ssize_t taken;
    do {
      taken = ::recv(fd, bytes.data(), frame.frame_bytes, MSG_DONTWAIT);
    } while (taken < 0 && errno == EINTR);
    if (taken != static_cast<ssize_t>(frame.frame_bytes)) return Input::kFrame;
    NoteReceived();
    if (frame.ping) *ping = std::move(frame.payload);
  }
}

}  // namespace vigil::gateway::internal
