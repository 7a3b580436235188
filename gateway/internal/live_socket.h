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
// Thread safety: none; everything runs on the connection's strand. The
// owner given to SetOwner keeps the socket alive while a write is in
// flight.

#ifndef VIGIL_GATEWAY_INTERNAL_LIVE_SOCKET_H_
#define VIGIL_GATEWAY_INTERNAL_LIVE_SOCKET_H_

#include <utility>  // before Asio: Boost 1.74 needs std::exchange declared

#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/teardown.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gateway/internal/live_protocol.h"

namespace vigil::gateway::internal {

class LiveSocket {
 public:
  using executor_type = boost::beast::tcp_stream::executor_type;
  using next_layer_type = boost::beast::tcp_stream;
  // Called when a batch is written (or failed): the error and its frames'
  // payload bytes.
  using WriteHandler = std::function<void(boost::beast::error_code, size_t)>;

  // The most bytes of Beast's own writes waiting in the queue (control
  // frames are at most 127 bytes; the handshake's response under 1 KiB);
  // past it, Beast's write fails (a client that sends pings and reads no
  // pongs). 64 KiB.
  static constexpr size_t kMaxControlBytes = 64 << 10;

  explicit LiveSocket(boost::beast::tcp_stream&& stream)
      : stream_(std::move(stream)) {}

  // `owner` is kept alive (locked) while a write is in flight.
  void SetOwner(std::weak_ptr<void> owner) { owner_ = std::move(owner); }

  executor_type get_executor() { return stream_.get_executor(); }
  boost::beast::tcp_stream& next_layer() { return stream_; }

  // Writes `frames` (each one whole message) after what is queued, then
  // calls `done` on the strand (never from within this call). REQUIRES:
  // the previous batch's `done` was called.
  void WriteFrames(std::vector<LiveFrame> frames, WriteHandler done);

  // The stream interface Beast's WebSocket stream uses.
  template <typename MutableBuffers, typename Handler>
  auto async_read_some(const MutableBuffers& buffers, Handler&& handler) {
    return stream_.async_read_some(buffers, std::forward<Handler>(handler));
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
  // is written, that of the TCP stream.
  template <typename Handler>
  friend void async_teardown(boost::beast::role_type role, LiveSocket& socket,
                             Handler&& handler) {
    auto shared =
        std::make_shared<std::decay_t<Handler>>(std::forward<Handler>(handler));
    socket.AfterFlush([role, &socket, shared] {
      using boost::beast::websocket::async_teardown;
      async_teardown(role, socket.stream_, std::move(*shared));
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

  boost::beast::tcp_stream stream_;
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
};

}  // namespace vigil::gateway::internal

#endif  // VIGIL_GATEWAY_INTERNAL_LIVE_SOCKET_H_
