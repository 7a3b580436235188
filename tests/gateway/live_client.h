// A WebSocket client for tests of the live feed (GET /v1/live): Beast's
// websocket::stream run with deadlines, so every read has a bound. Header
// only; each test file that includes it is a Beast translation unit.

#ifndef VIGIL_TESTS_GATEWAY_LIVE_CLIENT_H_
#define VIGIL_TESTS_GATEWAY_LIVE_CLIENT_H_

#include <utility>  // before Asio: Boost 1.74 needs std::exchange declared

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <simdjson.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gtest/gtest.h"

namespace vigil::testing {

namespace live_client_internal {
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;
}  // namespace live_client_internal

using namespace live_client_internal;  // NOLINT: test code

constexpr auto kWait = std::chrono::seconds(10);

// One frame as the client saw it.
struct Frame {
  std::string kind;  // "event", "caught_up", ...; "binary" for binary frames
  uint64_t position = 0;
  std::string stream;
  std::string type;
  std::string text;
};

Frame ParseFrame(const std::string& text) {
  Frame frame;
  frame.text = text;
  simdjson::dom::parser parser;
  simdjson::dom::object object;
  if (parser.parse(text).get(object) != simdjson::SUCCESS) return frame;
  std::string_view kind;
  if (object["kind"].get(kind) == simdjson::SUCCESS) frame.kind = kind;
  uint64_t position = 0;
  if (object["position"].get(position) == simdjson::SUCCESS) {
    frame.position = position;
  }
  std::string_view value;
  if (object["stream"].get(value) == simdjson::SUCCESS) frame.stream = value;
  if (object["type"].get(value) == simdjson::SUCCESS) frame.type = value;
  return frame;
}

// A synchronous-looking WebSocket client whose every operation has a
// deadline (the io_context runs only for it).
class Client {
 public:
  struct Options {
    std::string target = "/v1/live";
    std::string origin;  // empty: none sent
    std::string authorization;
    std::string subprotocol;
    int receive_buffer = 0;  // SO_RCVBUF before connecting; 0 = default
  };

  // Connects and completes the handshake; `error` says why not. `host`
  // goes in the Host header.
  Client(uint16_t port, const Options& options,
         const std::string& host = "127.0.0.1") {
    tcp::socket& socket = beast::get_lowest_layer(ws_);
    socket.open(tcp::v4());
    if (options.receive_buffer > 0) {
      socket.set_option(net::socket_base::receive_buffer_size(
          options.receive_buffer));
    }
    beast::error_code ec;
    socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port),
                   ec);
    if (ec) {
      error = ec;
      return;
    }
    ws_.set_option(websocket::stream_base::decorator(
        [options](websocket::request_type& request) {
          if (!options.origin.empty()) {
            request.set(http::field::origin, options.origin);
          }
          if (!options.authorization.empty()) {
            request.set(http::field::authorization, options.authorization);
          }
          if (!options.subprotocol.empty()) {
            request.set(http::field::sec_websocket_protocol,
                        options.subprotocol);
          }
        }));
    ws_.read_message_max(8 << 20);
    ws_.control_callback([this](websocket::frame_type kind, beast::string_view) {
      if (kind == websocket::frame_type::pong) ++pongs_;
    });
    ws_.handshake(response_, host, options.target, error);
  }

  bool ok() const { return !error; }
  int status() const { return response_.result_int(); }
  std::string protocol() const {
    return std::string(response_[http::field::sec_websocket_protocol]);
  }

  // The next message, or nothing on error or after `timeout` (then the
  // connection is unusable).
  std::optional<Frame> Read(std::chrono::milliseconds timeout = kWait) {
    buffer_.clear();
    beast::error_code result = net::error::would_block;
    ws_.async_read(buffer_,
                   [&](beast::error_code ec, size_t) { result = ec; });
    Run(timeout, &result);
    if (result) {
      error = result;
      return std::nullopt;
    }
    std::string text = beast::buffers_to_string(buffer_.data());
    if (ws_.got_binary()) {
      Frame frame;
      frame.kind = "binary";
      frame.text = std::move(text);
      return frame;
    }
    return ParseFrame(text);
  }

  // Reads frames until one of `kind`; the events before it go to `events`.
  std::optional<Frame> ReadUntil(std::string_view kind,
                                 std::vector<Frame>* events = nullptr) {
    for (;;) {
      std::optional<Frame> frame = Read();
      if (!frame.has_value() || frame->kind == kind) return frame;
      if (events != nullptr && frame->kind == "event") events->push_back(*frame);
    }
  }

  bool Send(const std::string& text, bool binary = false) {
    ws_.binary(binary);
    beast::error_code result = net::error::would_block;
    ws_.async_write(net::buffer(text),
                    [&](beast::error_code ec, size_t) { result = ec; });
    Run(kWait, &result);
    return !result;
  }

  // Sends a WebSocket ping; pongs() counts the pongs read since connecting.
  bool Ping() {
    beast::error_code result = net::error::would_block;
    ws_.async_ping({}, [&](beast::error_code ec) { result = ec; });
    Run(kWait, &result);
    return !result;
  }
  int pongs() const { return pongs_; }

  // The close handshake from the client's side (code 1000): true when the
  // server answered with its close frame (messages before it are dropped).
  bool Close() {
    beast::error_code result = net::error::would_block;
    ws_.async_close(websocket::close_code::normal,
                    [&](beast::error_code ec) { result = ec; });
    Run(kWait, &result);
    if (result) error = result;
    return !result;
  }

  // Reads until the server closes; its close code (0 when the connection
  // ended without one).
  int AwaitClose() {
    for (;;) {
      if (!Read().has_value()) break;
    }
    return error == websocket::error::closed ? ws_.reason().code : 0;
  }
  std::string CloseReason() const {
    return std::string(ws_.reason().reason.data(), ws_.reason().reason.size());
  }

  // Drops the TCP connection without a close handshake.
  void Drop() {
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).close(ignored);
  }

  beast::error_code error;

 private:
  void Run(std::chrono::milliseconds timeout, beast::error_code* result) {
    ioc_.restart();
    ioc_.run_for(timeout);
    if (*result == net::error::would_block) {
      beast::error_code ignored;
      beast::get_lowest_layer(ws_).cancel(ignored);
      ioc_.restart();
      ioc_.run_for(std::chrono::seconds(1));
      *result = net::error::timed_out;
    }
  }

  net::io_context ioc_;
  websocket::stream<tcp::socket> ws_{ioc_};
  websocket::response_type response_;
  beast::flat_buffer buffer_;
  int pongs_ = 0;
};

// The event frames `client` reads until one at or past position `last`;
// a read that fails ends it with a test failure.
inline std::vector<Frame> ReadEventsThrough(Client& client, uint64_t last) {
  std::vector<Frame> events;
  while (events.empty() || events.back().position < last) {
    std::optional<Frame> frame = client.Read();
    if (!frame.has_value()) {
      ADD_FAILURE() << "read failed after " << events.size()
                    << " events: " << client.error.message();
      break;
    }
    if (frame->kind == "event") events.push_back(*std::move(frame));
  }
  return events;
}

// The frames' texts, to compare two feeds byte for byte.
inline std::vector<std::string> Texts(const std::vector<Frame>& frames) {
  std::vector<std::string> texts;
  for (const Frame& frame : frames) texts.push_back(frame.text);
  return texts;
}

}  // namespace vigil::testing

#endif  // VIGIL_TESTS_GATEWAY_LIVE_CLIENT_H_
