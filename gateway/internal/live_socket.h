// LiveSocket: the byte stream under the live feed's WebSocket stream
// (live_session.cc), where a connection's event frames are framed and
// written in batches. Beast still does the handshake, reads and checks
// every client frame, answers pings, sends keep-alive pings and runs the
// close handshake; but it writes one message per call, so the frames the
// subscription queued are framed here instead (RFC 6455: server frames are
// unmasked, a 2-10 byte header and the payload, live_protocol.h) and all of
// a batch go out in one gather write: one wake-up and one write per batch,
// not per frame, and the shared payloads are referenced, never copied.
//
// So that Beast's own writes and ours never interleave on the socket, every
// byte goes through one ordered queue here: what Beast writes (the
// handshake's response, control frames) is copied into it (bounded:
// kMaxControlBytes) and its write completes when those bytes are written,
// as it would on the socket (so a close frame behind a stalled batch waits
// for it, and Beast's close timeout starts after); our batches are queued
// behind it, one socket write is in flight at a time, and Beast's teardown
// waits until the queue is written.
//
// Reading: so that a silent client costs no pending Beast read (its
// composed operation, held for as long as the client says nothing), the
// session (live_session.cc) waits with AsyncWaitInput, a one-byte peek,
// takes the client's pings and pongs off the socket itself
// (TakeControlFrames) and has Beast read only other frames. For that, Beast
// is never given bytes past the end of the frame it is reading: when a
// message is done, nothing of the next frame hides in Beast's read buffer.
// Every byte read counts as the client's activity (last_received), which
// the session's keep-alive pings and idle timeout go by.
//
// Thread safety: none; everything runs on the connection's strand. The
// owner given to SetOwner keeps the socket alive while a write is in
// flight.

#ifndef VIGIL_GATEWAY_INTERNAL_LIVE_SOCKET_H_
#define VIGIL_GATEWAY_INTERNAL_LIVE_SOCKET_H_

#include <utility>  // before Asio: Boost 1.74 needs std::exchange declared

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/buffers_prefix.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/teardown.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gateway/internal/live_protocol.h"

namespace vigil::gateway::internal {

class LiveSocket {
 public:
  using next_layer_type = boost::asio::ip::tcp::socket;
  using executor_type = next_layer_type::executor_type;
  // Called when a batch is written (or failed): the error and its frames'
  // payload bytes.
  using WriteHandler = std::function<void(boost::beast::error_code, size_t)>;

  // The most bytes of Beast's own writes waiting in the queue (control
  // frames are at most 127 bytes; the handshake's response under 1 KiB);
  // past it, Beast's write fails (a client that sends pings and reads no
  // pongs). 64 KiB.
  static constexpr size_t kMaxControlBytes = 64 << 10;

  // Takes the socket out of `stream`: Beast's TCP stream (its two timers
  // and their state, ~0.5 KB) is not kept for a live connection.
  explicit LiveSocket(boost::beast::tcp_stream&& stream)
      : stream_(stream.release_socket()) {}

  // `owner` is kept alive (locked) while a write is in flight.
  void SetOwner(std::weak_ptr<void> owner) { owner_ = std::move(owner); }

  executor_type get_executor() { return stream_.get_executor(); }
  next_layer_type& next_layer() { return stream_; }

  // Writes `frames` (each one whole message) after what is queued, then
  // calls `done` on the strand (never from within this call). REQUIRES:
  // the previous batch's `done` was called.
  void WriteFrames(std::vector<LiveFrame> frames, WriteHandler done);

  // What TakeControlFrames left on the socket.
  enum class Input {
    kNone,   // nothing: wait with AsyncWaitInput
    kFrame,  // a frame for Beast's read (or the end of the stream)
  };

  // Completes (error_code, size_t) once the client has sent something
  // (or closed, or the socket failed), reading nothing: a peek of one byte.
  // REQUIRES: no Beast read in flight.
  template <typename Handler>
  void AsyncWaitInput(Handler&& handler) {
    stream_.async_receive(
        boost::asio::buffer(&peeked_, 1),
        boost::asio::socket_base::message_peek,
        std::forward<Handler>(handler));
  }

  // Reads the whole pings and pongs waiting on the socket, up to the first
  // other frame, without blocking; a ping's payload is put in *ping (at
  // most one, and only when `take_ping`: the caller answers it; the next
  // ping stops the scan). Between frames only (else kFrame). REQUIRES: no
  // Beast read in flight.
  Input TakeControlFrames(bool take_ping, std::optional<std::string>* ping);

  // When bytes last came from the client (or the socket was made). Also
  // from other threads (the ticker's).
  std::chrono::steady_clock::time_point last_received() const {
    return std::chrono::steady_clock::time_point(
        std::chrono::steady_clock::duration(
            last_received_.load(std::memory_order_relaxed)));
  }

  // The stream interface Beast's WebSocket stream uses. Reads stop at the
  // end of the current frame's header or payload.
  template <typename MutableBuffers, typename Handler>
  auto async_read_some(const MutableBuffers& buffers, Handler&& handler) {
    return boost::asio::async_initiate<Handler,
                                       void(boost::beast::error_code, size_t)>(
        [this](auto handler, const MutableBuffers& buffers) {
          const auto executor = boost::asio::get_associated_executor(
              handler, stream_.get_executor());
          stream_.async_read_some(
              boost::beast::buffers_prefix(ReadLimit(), buffers),
              boost::asio::bind_executor(
                  executor, [this, buffers, handler = std::move(handler)](
                                boost::beast::error_code ec,
                                size_t bytes) mutable {
                    size_t left = bytes;
                    for (auto it = boost::asio::buffer_sequence_begin(buffers);
                         left > 0 &&
                         it != boost::asio::buffer_sequence_end(buffers);
                         ++it) {
                      const boost::asio::const_buffer buffer(*it);
                      const size_t size = std::min(left, buffer.size());
                      Received(static_cast<const uint8_t*>(buffer.data()),
                               size);
                      left -= size;
                    }
                    handler(ec, bytes);
                  }));
        },
        handler, buffers);
  }

  template <typename ConstBuffers, typename Handler>
  auto async_write_some(const ConstBuffers& buffers, Handler&& handler) {
    return boost::asio::async_initiate<Handler,
                                       void(boost::beast::error_code, size_t)>(
        [this](auto handler, const ConstBuffers& buffers) {
          boost::beast::error_code ec = error_;
          const size_t size = boost::asio::buffer_size(buffers);
          if (!ec && control_.size() + size > kMaxControlBytes) {
            ec = boost::asio::error::no_buffer_space;
          }
          if (ec) {
            boost::asio::post(stream_.get_executor(),
                              boost::beast::bind_front_handler(
                                  std::move(handler), ec, size_t{0}));
            return;
          }
          for (auto it = boost::asio::buffer_sequence_begin(buffers);
               it != boost::asio::buffer_sequence_end(buffers); ++it) {
            const boost::asio::const_buffer buffer(*it);
            control_.append(static_cast<const char*>(buffer.data()),
                            buffer.size());
          }
          // Completed (posted) once these bytes are written.
          auto shared = std::make_shared<decltype(handler)>(std::move(handler));
          control_waiters_.push_back(
              [this, shared, size](boost::beast::error_code ec) {
                boost::asio::post(stream_.get_executor(),
                                  boost::beast::bind_front_handler(
                                      std::move(*shared), ec, ec ? 0 : size));
              });
          Flush();
        },
        handler, buffers);
  }

  // Beast's teardown (after a close) of a LiveSocket: once what is queued
  // is written, our half of the TCP connection is shut down and what the
  // client still sends is read and dropped until it closes its half (the
  // session's close deadline bounds the wait); then the socket is closed.
  // Not Beast 1.74's TCP teardown: it stops after one read of 2 KiB, and
  // closing a socket with unread bytes sends a reset that can overtake the
  // close frame (a client past read_message_max).
  template <typename Handler>
  friend void async_teardown(boost::beast::role_type, LiveSocket& socket,
                             Handler&& handler) {
    auto shared =
        std::make_shared<std::decay_t<Handler>>(std::forward<Handler>(handler));
    socket.AfterFlush([&socket, shared] {
      socket.Teardown(
          [shared](boost::beast::error_code ec) { (*shared)(ec); });
    });
  }
  friend void teardown(boost::beast::role_type role, LiveSocket& socket,
                       boost::beast::error_code& ec) {
    using boost::beast::websocket::teardown;
    teardown(role, socket.stream_, ec);
  }

 private:
  // Starts the next socket write when none is in flight and something is
  // queued; runs `after_flush_` when nothing is.
  void Flush();
  void OnWritten(boost::beast::error_code ec);
  // Calls `then` once nothing is queued or in flight (or writing failed).
  void AfterFlush(std::function<void()> then);
  // Drops every kept handler uncalled (WriteOp).
  void Abandon();
  // async_teardown's work; `done` is called on the strand, never within.
  void Teardown(std::function<void(boost::beast::error_code)> done);
  // How many bytes the next read may take: the rest of the frame's header,
  // or of its payload.
  size_t ReadLimit() const;
  // Follows the frames through `size` bytes given to Beast.
  void Received(const uint8_t* data, size_t size);

  // The completion of a gather write: holds the connection while the
  // write is in flight; if destroyed uncompleted, abandons the handlers.
  class WriteOp {
   public:
    WriteOp(LiveSocket* socket, std::shared_ptr<void> owner)
        : socket_(socket), owner_(std::move(owner)) {}
    WriteOp(WriteOp&&) = default;  // leaves `owner_` empty behind
    ~WriteOp();
    void Complete(boost::beast::error_code ec);

   private:
    LiveSocket* socket_;
    std::shared_ptr<void> owner_;
  };

  next_layer_type stream_;
  std::weak_ptr<void> owner_;
  boost::beast::error_code error_;  // the first write error: later ones fail
  // Queued: Beast's bytes first, then our batch.
  std::string control_;
  std::vector<std::function<void(boost::beast::error_code)>> control_waiters_;
  std::vector<LiveFrame> frames_;
  WriteHandler done_;
  // In flight.
  bool writing_ = false;
  std::string writing_control_;
  std::vector<std::function<void(boost::beast::error_code)>> writing_waiters_;
  std::vector<LiveFrame> writing_frames_;
  size_t writing_payload_bytes_ = 0;
  WriteHandler writing_done_;
  std::vector<uint8_t> headers_;
  std::vector<boost::asio::const_buffer> buffers_;
  std::function<void()> after_flush_;
  // Reading: the current frame's header bytes so far, else its payload
  // bytes still to come.
  uint8_t header_[14] = {};
  size_t header_bytes_ = 0;
  uint64_t payload_left_ = 0;
  std::atomic<std::chrono::steady_clock::rep> last_received_{
      std::chrono::steady_clock::now().time_since_epoch().count()};
  void NoteReceived() {
    last_received_.store(
        std::chrono::steady_clock::now().time_since_epoch().count(),
        std::memory_order_relaxed);
  }
  char peeked_ = 0;
};

}  // namespace vigil::gateway::internal

#endif  // VIGIL_GATEWAY_INTERNAL_LIVE_SOCKET_H_
