#include "gateway/internal/live_socket.h"

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

}  // namespace vigil::gateway::internal
