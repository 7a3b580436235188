#include "projections/webhooks/internal/http_client.h"

#include <arpa/inet.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <set>
#include <utility>

#include "absl/synchronization/mutex.h"

namespace vigil::webhooks::internal {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

std::vector<tcp::endpoint> Endpoints(const std::vector<Address>& addresses) {
  std::vector<tcp::endpoint> endpoints;
  for (const Address& address : addresses) {
    if (address.storage.ss_family == AF_INET) {
      const auto* v4 = reinterpret_cast<const sockaddr_in*>(&address.storage);
      endpoints.emplace_back(asio::ip::address_v4(ntohl(v4->sin_addr.s_addr)),
                             ntohs(v4->sin_port));
    } else if (address.storage.ss_family == AF_INET6) {
      const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&address.storage);
      asio::ip::address_v6::bytes_type bytes;
      std::copy(v6->sin6_addr.s6_addr, v6->sin6_addr.s6_addr + 16,
                bytes.begin());
      endpoints.emplace_back(asio::ip::address_v6(bytes, v6->sin6_scope_id),
                             ntohs(v6->sin6_port));
    }
  }
  return endpoints;
}

// One exchange's state, alive on the caller's stack while its io_context
// runs.
struct Exchange {
  http::request<http::string_body> request;
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  PostResult result;

  void Fail(beast::error_code ec, const char* stage) {
    if (ec == beast::error::timeout) {
      result.error = std::string("timeout (") + stage + ")";
    } else {
      result.error = std::string(stage) + ": " + ec.message();
    }
  }

  // The status line and headers are enough: a body over the limit, or a
  // connection closed early after them, still answered.
  void Done(beast::error_code ec) {
    if (parser.is_header_done()) {
      const auto& response = parser.get();
      result.status = static_cast<int>(response.result_int());
      auto retry = response.find(http::field::retry_after);
      if (retry != response.end()) {
        result.retry_after = std::string(retry->value());
      }
      return;
    }
    Fail(ec, "reading the response");
  }

  template <typename Stream>
  void WriteThenRead(Stream& stream) {
    http::async_write(
        stream, request, [this, &stream](beast::error_code ec, size_t) {
          if (ec) return Fail(ec, "sending the request");
          http::async_read(stream, buffer, parser,
                           [this](beast::error_code ec, size_t) { Done(ec); });
        });
  }
};

class BeastHttpClient : public HttpClient {
 public:
  BeastHttpClient(const HttpClientOptions& options, ssl::context context)
      : options_(options), tls_(std::move(context)) {}

  PostResult Post(
      const Url& url, const std::vector<Address>& addresses,
      const std::vector<std::pair<std::string, std::string>>& headers,
      const std::string& body, absl::Duration timeout) override {
    asio::io_context io;
    {
      absl::MutexLock lock(&mu_);
      if (cancelled_) return Cancelled();
      active_.insert(&io);
    }
    PostResult result = Run(io, url, addresses, headers, body, timeout);
    absl::MutexLock lock(&mu_);
    active_.erase(&io);
    return cancelled_ && result.status == 0 && result.error.empty()
               ? Cancelled()
               : result;
  }

  void CancelAll() override {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    // io_context::stop is thread-safe; run() returns without running the
    // remaining handlers.
    for (asio::io_context* io : active_) io->stop();
  }

 private:
  static PostResult Cancelled() {
    return PostResult{.error = "cancelled: the server is stopping"};
  }

  PostResult Run(
      asio::io_context& io, const Url& url,
      const std::vector<Address>& addresses,
      const std::vector<std::pair<std::string, std::string>>& headers,
      const std::string& body, absl::Duration timeout) {
    Exchange exchange;
    exchange.parser.body_limit(options_.max_response_bytes);
    exchange.parser.header_limit(16 << 10);
    exchange.request =
        http::request<http::string_body>(http::verb::post, url.target, 11);
    exchange.request.set(http::field::host, url.HostHeader());
    exchange.request.set(http::field::user_agent, "Vigil-Webhooks/0.1");
    exchange.request.set(http::field::connection, "close");
    for (const auto& [name, value] : headers) {
      exchange.request.set(name, value);
    }
    exchange.request.body() = body;
    exchange.request.prepare_payload();

    const std::vector<tcp::endpoint> endpoints = Endpoints(addresses);
    const auto deadline =
        std::chrono::steady_clock::now() + absl::ToChronoMilliseconds(timeout);
    if (!url.https) {
      beast::tcp_stream stream(io);
      stream.expires_at(deadline);
      stream.async_connect(endpoints,
                           [&](beast::error_code ec, const tcp::endpoint&) {
                             if (ec) return exchange.Fail(ec, "connecting");
                             exchange.WriteThenRead(stream);
                           });
      io.run();
      beast::error_code ignored;
      stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
      return exchange.result;
    }

    beast::ssl_stream<beast::tcp_stream> stream(io, tls_);
    // SNI and the name checked against the certificate: a host name, or
    // the IP address itself.
    beast::error_code parsed;
    asio::ip::make_address(url.host, parsed);
    if (parsed) {
      SSL_set_tlsext_host_name(stream.native_handle(), url.host.c_str());
    }
    if (options_.verify_certificates) {
      beast::error_code ec;
      stream.set_verify_callback(ssl::host_name_verification(url.host), ec);
      if (ec) {
        exchange.Fail(ec, "TLS setup");
        return exchange.result;
      }
    }
    beast::get_lowest_layer(stream).expires_at(deadline);
    beast::get_lowest_layer(stream).async_connect(
        endpoints, [&](beast::error_code ec, const tcp::endpoint&) {
          if (ec) return exchange.Fail(ec, "connecting");
          stream.async_handshake(ssl::stream_base::client,
                                 [&](beast::error_code ec) {
                                   if (ec)
                                     return exchange.Fail(ec, "TLS handshake");
                                   exchange.WriteThenRead(stream);
                                 });
        });
    io.run();
    return exchange.result;
  }

  const HttpClientOptions options_;
  // Configured once in Create; only read afterwards, which OpenSSL allows
  // from many threads.
  ssl::context tls_;

  absl::Mutex mu_;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  std::set<asio::io_context*> active_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

absl::StatusOr<std::unique_ptr<HttpClient>> HttpClient::Create(
    const HttpClientOptions& options) {
  ssl::context context(ssl::context::tls_client);
  beast::error_code ec;
  context.set_options(ssl::context::default_workarounds |
                          ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                          ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                      ec);
  context.set_default_verify_paths(ec);
  if (ec) {
    return absl::InternalError("cannot load the system's CA certificates: " +
                               ec.message());
  }
  if (!options.ca_file.empty()) {
    context.load_verify_file(options.ca_file, ec);
    if (ec) {
      return absl::InvalidArgumentError(
          "cannot load CA file \"" + options.ca_file + "\": " + ec.message());
    }
  }
  context.set_verify_mode(
      options.verify_certificates ? ssl::verify_peer : ssl::verify_none, ec);
  return std::make_unique<BeastHttpClient>(options, std::move(context));
}

}  // namespace vigil::webhooks::internal
