#include "replication/etcd_client.h"

#include <simdjson.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "base/json.h"
#include "base/status_macros.h"

namespace vigil::replication {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// The gateway's int64 fields are JSON strings ("123"); absent means 0.
int64_t Int64(simdjson::dom::element object, std::string_view key) {
  std::string_view text;
  if (object[key].get_string().get(text) != simdjson::SUCCESS) return 0;
  int64_t value = 0;
  return absl::SimpleAtoi(absl::string_view(text.data(), text.size()), &value)
             ? value
             : 0;
}

absl::StatusOr<simdjson::dom::element> Parse(simdjson::dom::parser& parser,
                                             const std::string& body) {
  simdjson::dom::element root;
  if (parser.parse(body).get(root) != simdjson::SUCCESS) {
    return absl::InternalError(
        absl::StrCat("etcd answered something that is not JSON: ",
                     base::ReplaceInvalidUtf8(body.substr(0, 200))));
  }
  return root;
}

std::string Unbase64(std::string_view text) {
  std::string bytes;
  absl::Base64Unescape(absl::string_view(text.data(), text.size()), &bytes);
  return bytes;
}

EtcdKeyValue KeyValueOf(simdjson::dom::element kv) {
  std::string_view value;
  if (kv["value"].get_string().get(value) != simdjson::SUCCESS) value = "";
  return {.value = Unbase64(value),
          .create_revision = Int64(kv, "create_revision"),
          .lease = Int64(kv, "lease")};
}

}  // namespace

absl::StatusOr<std::unique_ptr<EtcdClient>> EtcdClient::Create(
    const EtcdOptions& options) {
  std::vector<Endpoint> endpoints;
  for (absl::string_view url :
       absl::StrSplit(options.endpoints, ',', absl::SkipWhitespace())) {
    absl::string_view rest = url;
    const bool http_url = absl::ConsumePrefix(&rest, "http://");
    const size_t split = rest.rfind(':');
    if (!http_url || rest.find('/') != rest.npos || split == rest.npos ||
        split == 0 || split + 1 == rest.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "etcd endpoint \"", url, "\": expected http://HOST:PORT"));
    }
    endpoints.push_back({std::string(rest.substr(0, split)),
                         std::string(rest.substr(split + 1))});
  }
  if (endpoints.empty()) {
    return absl::InvalidArgumentError("no etcd endpoint (--etcd-endpoints)");
  }
  if (options.request_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("etcd: the request timeout must be positive");
  }
  return std::unique_ptr<EtcdClient>(
      new EtcdClient(std::move(endpoints), options.request_timeout));
}

absl::StatusOr<std::string> EtcdClient::Post(const char* path,
                                             const std::string& body) {
  std::string failures;
  const size_t first = first_.load();
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    const size_t index = (first + i) % endpoints_.size();
    const Endpoint& endpoint = endpoints_[index];
    asio::io_context io;
    beast::tcp_stream stream(io);
    stream.expires_after(
        std::chrono::milliseconds(absl::ToInt64Milliseconds(timeout_)));
    beast::error_code ec;
    tcp::resolver resolver(io);
    const auto addresses = resolver.resolve(endpoint.host, endpoint.port, ec);
    if (!ec) stream.connect(addresses, ec);
    http::request<http::string_body> request(http::verb::post, path, 11);
    request.set(http::field::host, endpoint.host);
    request.set(http::field::content_type, "application/json");
    request.body() = body;
    request.prepare_payload();
    if (!ec) http::write(stream, request, ec);
    beast::flat_buffer buffer;
    http::response<http::string_body> response;
    if (!ec) http::read(stream, buffer, response, ec);
    if (ec) {
      absl::StrAppend(&failures, failures.empty() ? "" : "; ", endpoint.host,
                      ":", endpoint.port, ": ", ec.message());
      continue;
    }
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    first_.store(index);
    if (response.result_int() != 200) {
      return absl::InternalError(absl::StrCat(
          "etcd ", endpoint.host, ":", endpoint.port, " answered ", path,
          " with HTTP ", response.result_int(), ": ",
          base::ReplaceInvalidUtf8(response.body().substr(0, 200))));
    }
    return std::move(response.body());
  }
  return absl::UnavailableError(
      absl::StrCat("no etcd member answered ", path, " (", failures, ")"));
}

absl::StatusOr<int64_t> EtcdClient::GrantLease(int64_t ttl_seconds) {
  ASSIGN_OR_RETURN(const std::string body,
                   Post("/v3/lease/grant",
                        base::DumpJson({{"TTL", ttl_seconds}})));
  simdjson::dom::parser parser;
  ASSIGN_OR_RETURN(simdjson::dom::element root, Parse(parser, body));
  const int64_t lease = Int64(root, "ID");
  if (lease == 0) {
    return absl::InternalError(absl::StrCat("etcd granted no lease: ", body));
  }
  return lease;
}

absl::StatusOr<int64_t> EtcdClient::KeepAlive(int64_t lease) {
  ASSIGN_OR_RETURN(const std::string body,
                   Post("/v3/lease/keepalive",
                        base::DumpJson({{"ID", absl::StrCat(lease)}})));
  simdjson::dom::parser parser;
  ASSIGN_OR_RETURN(simdjson::dom::element root, Parse(parser, body));
  simdjson::dom::element result;
  if (root["result"].get(result) != simdjson::SUCCESS) {
    return absl::InternalError(
        absl::StrCat("etcd's keepalive answer has no result: ", body));
  }
  const int64_t ttl = Int64(result, "TTL");
  if (ttl <= 0) {
    return absl::NotFoundError(
        absl::StrCat("etcd lease ", lease, " has expired or was revoked"));
  }
  return ttl;
}

absl::Status EtcdClient::Revoke(int64_t lease) {
  absl::StatusOr<std::string> body = Post(
      "/v3/lease/revoke", base::DumpJson({{"ID", absl::StrCat(lease)}}));
  // A lease that no longer exists is answered with an error status.
  if (!body.ok() && body.status().code() == absl::StatusCode::kInternal &&
      body.status().message().find("not found") != absl::string_view::npos) {
    return absl::OkStatus();
  }
  return body.status();
}

absl::StatusOr<int64_t> EtcdClient::CreateIfAbsent(const std::string& key,
                                                   const std::string& value,
                                                   int64_t lease) {
  const std::string key64 = absl::Base64Escape(key);
  const base::Json txn = {
      {"compare",
       {{{"key", key64},
         {"result", "EQUAL"},
         {"target", "CREATE"},
         {"create_revision", "0"}}}},
      {"success",
       {{{"request_put",
          {{"key", key64},
           {"value", absl::Base64Escape(value)},
           {"lease", absl::StrCat(lease)}}}}}},
      {"failure", {{{"request_range", {{"key", key64}}}}}}};
  ASSIGN_OR_RETURN(const std::string body,
                   Post("/v3/kv/txn", base::DumpJson(txn)));
  simdjson::dom::parser parser;
  ASSIGN_OR_RETURN(simdjson::dom::element root, Parse(parser, body));
  bool succeeded = false;
  if (root["succeeded"].get_bool().get(succeeded) != simdjson::SUCCESS) {
    succeeded = false;  // the gateway leaves false out
  }
  if (succeeded) {
    simdjson::dom::element header;
    const int64_t revision =
        root["header"].get(header) == simdjson::SUCCESS
            ? Int64(header, "revision")
            : 0;
    if (revision == 0) {
      return absl::InternalError(
          absl::StrCat("etcd's transaction answer has no revision: ", body));
    }
    return revision;
  }
  std::string holder = "(gone since)";
  simdjson::dom::element kv;
  if (root["responses"].at(0)["response_range"]["kvs"].at(0).get(kv) ==
      simdjson::SUCCESS) {
    holder = KeyValueOf(kv).value;
  }
  return absl::AlreadyExistsError(absl::StrCat(
      "etcd key ", key, " is held by ", base::ReplaceInvalidUtf8(holder)));
}

absl::StatusOr<std::optional<EtcdKeyValue>> EtcdClient::Get(
    const std::string& key) {
  ASSIGN_OR_RETURN(const std::string body,
                   Post("/v3/kv/range", base::DumpJson({{"key", absl::Base64Escape(key)}})));
  simdjson::dom::parser parser;
  ASSIGN_OR_RETURN(simdjson::dom::element root, Parse(parser, body));
  simdjson::dom::element kv;
  if (root["kvs"].at(0).get(kv) != simdjson::SUCCESS) return std::nullopt;
  return KeyValueOf(kv);
}

}  // namespace vigil::replication
