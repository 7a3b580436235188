// A deliberately small HTTP/1.1 client over plain POSIX sockets for the
// gateway tests: it sends exactly the bytes a test gives it (so tests can
// pipeline, stall, or send malformed requests) and parses responses with a
// Content-Length body, which is all the server sends. No Beast, so the test
// compiles in seconds. Not thread-safe; one per thread.

#ifndef VIGIL_TESTS_GATEWAY_HTTP_CLIENT_H_
#define VIGIL_TESTS_GATEWAY_HTTP_CLIENT_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vigil::testing {

struct HttpResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercase
  std::string body;

  // The first value of `name` (lowercase); empty when absent.
  std::string Header(std::string_view name) const {
    for (const auto& [field, value] : headers) {
      if (field == name) return value;
    }
    return "";
  }
  bool HasHeader(std::string_view name) const {
    for (const auto& [field, value] : headers) {
      if (field == name) return true;
    }
    return false;
  }
};

// "POST /path HTTP/1.1" with Host, the given fields, Content-Length when
// there is a body (or `force_length`), and the body.
inline std::string FormatRequest(
    std::string_view method, std::string_view target,
    const std::vector<std::pair<std::string, std::string>>& headers = {},
    std::string_view body = {}, bool force_length = false) {
  std::string out;
  out.append(method).append(" ").append(target).append(" HTTP/1.1\r\n");
  out.append("Host: 127.0.0.1\r\n");
  for (const auto& [name, value] : headers) {
    out.append(name).append(": ").append(value).append("\r\n");
  }
  if (!body.empty() || force_length) {
    out.append("Content-Length: ")
        .append(std::to_string(body.size()))
        .append("\r\n");
  }
  out.append("\r\n").append(body);
  return out;
}

class HttpConnection {
 public:
  explicit HttpConnection(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address),
                           sizeof(address)) == 0;
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  ~HttpConnection() {
    if (fd_ >= 0) ::close(fd_);
  }
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  bool connected() const { return connected_; }

  // False when the peer has closed or reset the connection.
  bool Send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // The next response, or nullopt when the connection closes first or
  // nothing complete arrives within `timeout`.
  std::optional<HttpResponse> Read(
      std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    size_t header_end;
    while ((header_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill(deadline)) return std::nullopt;
    }
    HttpResponse response;
    std::string_view head(buffer_.data(), header_end);
    size_t line_end = head.find("\r\n");
    std::string_view status_line = head.substr(0, line_end);
    // "HTTP/1.1 201 Created"
    if (status_line.size() < 12) return std::nullopt;
    response.status = std::atoi(std::string(status_line.substr(9, 3)).c_str());
    size_t length = 0;
    while (line_end != std::string_view::npos) {
      head.remove_prefix(line_end + 2);
      line_end = head.find("\r\n");
      std::string_view line = head.substr(0, line_end);
      const size_t colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      std::string name(line.substr(0, colon));
      for (char& c : name) c = static_cast<char>(std::tolower(c));
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      if (name == "content-length") {
        length = std::strtoull(std::string(value).c_str(), nullptr, 10);
      }
      response.headers.emplace_back(std::move(name), std::string(value));
    }
    const size_t body_start = header_end + 4;
    while (buffer_.size() < body_start + length) {
      if (!Fill(deadline)) return std::nullopt;
    }
    response.body = buffer_.substr(body_start, length);
    buffer_.erase(0, body_start + length);
    return response;
  }

  // Sends one request and reads its response.
  std::optional<HttpResponse> Request(
      std::string_view method, std::string_view target,
      const std::vector<std::pair<std::string, std::string>>& headers = {},
      std::string_view body = {}) {
    if (!Send(FormatRequest(method, target, headers, body))) {
      return std::nullopt;
    }
    return Read();
  }

  // What arrives next (what is already buffered first), for streams that
  // are not HTTP responses (WebSocket frames, Server-Sent Events);
  // nullopt on close, error or timeout.
  std::optional<std::string> ReadSome(
      std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    if (buffer_.empty() &&
        !Fill(std::chrono::steady_clock::now() + timeout)) {
      return std::nullopt;
    }
    std::string out;
    out.swap(buffer_);
    return out;
  }

  // True when the server closes the connection within `timeout` (anything
  // it sends before is discarded).
  bool WaitClosed(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      if (!Fill(deadline)) return !timed_out_;
    }
  }

 private:
  // Reads more into buffer_; false on close, error or deadline.
  bool Fill(std::chrono::steady_clock::time_point deadline) {
    timed_out_ = false;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out_ = true;
      return false;
    }
    pollfd p{.fd = fd_, .events = POLLIN, .revents = 0};
    const int ready = ::poll(&p, 1, static_cast<int>(left.count()));
    if (ready == 0) {
      timed_out_ = true;
      return false;
    }
    if (ready < 0) return false;
    char chunk[16384];
    const ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (n <= 0) return false;
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  bool connected_ = false;
  bool timed_out_ = false;
  std::string buffer_;
};

}  // namespace vigil::testing

#endif  // VIGIL_TESTS_GATEWAY_HTTP_CLIENT_H_
