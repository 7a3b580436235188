// HttpClient: one HTTP(S) POST at a time per call, for the delivery
// workers. The only translation unit of the webhooks module with Boost.Beast
// and Asio SSL (each such unit costs ~40 s and 1.4 GB to compile); this
// header includes neither. A new connection per request: deliveries to one
// endpoint are sequential and mostly far apart.
//
// Thread safety: Post may be called from any number of threads at once;
// each call runs its own io_context on the calling thread.

#ifndef VIGIL_PROJECTIONS_WEBHOOKS_INTERNAL_HTTP_CLIENT_H_
#define VIGIL_PROJECTIONS_WEBHOOKS_INTERNAL_HTTP_CLIENT_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "projections/webhooks/target.h"

namespace vigil::webhooks::internal {

struct HttpClientOptions {
  // Verify the server's certificate chain and host name (HTTPS).
  bool verify_certificates = true;
  // Extra trusted CA certificates (PEM), besides the system's; empty: none.
  std::string ca_file;
  // The most of a response body read; the rest is not waited for.
  size_t max_response_bytes = 64 << 10;
};

struct PostResult {
  int status = 0;           // the HTTP status; 0 when there was none
  std::string retry_after;  // the Retry-After field, when sent
  std::string error;        // what failed when status is 0
};

class HttpClient {
 public:
  // INVALID_ARGUMENT when `ca_file` cannot be loaded.
  static absl::StatusOr<std::unique_ptr<HttpClient>> Create(
      const HttpClientOptions& options);
  virtual ~HttpClient() = default;

  // POSTs `body` to `url`, connecting to the first of `addresses` that
  // answers (the addresses Resolve checked, never a new lookup). The whole
  // exchange (connect, TLS handshake, request, response) must finish within
  // `timeout`.
  virtual PostResult Post(
      const Url& url, const std::vector<Address>& addresses,
      const std::vector<std::pair<std::string, std::string>>& headers,
      const std::string& body, absl::Duration timeout) = 0;

  // For shutdown: ends every Post in flight (each returns status 0, error
  // "cancelled: ...") and makes later ones return so at once.
  virtual void CancelAll() = 0;
};

}  // namespace vigil::webhooks::internal

#endif  // VIGIL_PROJECTIONS_WEBHOOKS_INTERNAL_HTTP_CLIENT_H_
