// The Beast side of the live feed: a WebSocket session (GET /v1/live) and a
// Server-Sent Events session (GET /v1/live/sse), each taking over an HTTP
// connection whose request RequestHandler::AdmitLive admitted. What they
// write comes from a LiveSubscription (live_subscription.h); this file
// only moves bytes, with one write in flight per connection, on the
// connection's strand. With http_server.cc and live_socket.cc (the framing
// under the WebSocket stream), the Beast translation units: keep Beast out
// of every other file.

#ifndef VIGIL_GATEWAY_INTERNAL_LIVE_SESSION_H_
#define VIGIL_GATEWAY_INTERNAL_LIVE_SESSION_H_

#include <utility>  // before Asio: Boost 1.74 needs std::exchange declared

#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "gateway/internal/live_hub.h"
#include "gateway/internal/live_ticker.h"
#include "gateway/internal/request_handler.h"

namespace vigil::gateway::internal {

// Completes the WebSocket handshake for `request` on `stream` and serves
// the subscription in `admission` until either side closes. `handler`
// (for the request metrics), `hub` and `ticker` (started) must outlive the
// io_context.
void RunLiveWebSocket(
    boost::beast::tcp_stream stream,
    boost::beast::http::request<boost::beast::http::string_body> request,
    LiveAdmission admission, LiveHub* hub, RequestHandler* handler,
    LiveTicker* ticker);

// Answers 200 text/event-stream on `stream` in the request's HTTP
// `version` (as Beast numbers it: 10 or 11) and streams the subscription
// until the client goes away.
void RunLiveSse(boost::beast::tcp_stream stream, unsigned version,
                LiveAdmission admission, LiveHub* hub,
                RequestHandler* handler, LiveTicker* ticker);

}  // namespace vigil::gateway::internal

#endif  // VIGIL_GATEWAY_INTERNAL_LIVE_SESSION_H_
