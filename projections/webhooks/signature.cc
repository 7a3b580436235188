#include "projections/webhooks/signature.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cstdlib>

namespace vigil::webhooks {
namespace {

constexpr size_t kSecretBytes = 24;

absl::StatusOr<std::string> SecretKey(std::string_view secret) {
  constexpr std::string_view kPrefix = kSecretPrefix;
  if (secret.substr(0, kPrefix.size()) != kPrefix) {
    return absl::InvalidArgumentError("a webhook secret starts with whsec_");
  }
  return Base64Decode(secret.substr(kPrefix.size()));
}

}  // namespace

std::string Base64Encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(bytes.data()),
                      static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

absl::StatusOr<std::string> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) {
    return absl::InvalidArgumentError("malformed base64 (length)");
  }
  std::string out(3 * text.size() / 4, '\0');
  const int n =
      EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(text.data()),
                      static_cast<int>(text.size()));
  if (n < 0) return absl::InvalidArgumentError("malformed base64");
  // EVP_DecodeBlock counts the padding as zero bytes.
  size_t size = static_cast<size_t>(n);
  for (size_t i = text.size(); i > 0 && text[i - 1] == '='; --i) --size;
  out.resize(size);
  return out;
}

std::string GenerateSecret() {
  unsigned char bytes[kSecretBytes];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
    // No entropy is a broken host, not an input error.
    std::abort();
  }
  return std::string(kSecretPrefix) +
         Base64Encode(
             std::string_view(reinterpret_cast<char*>(bytes), sizeof(bytes)));
}

absl::StatusOr<std::string> Sign(std::string_view secret, std::string_view id,
                                 int64_t timestamp, std::string_view body) {
  absl::StatusOr<std::string> key = SecretKey(secret);
  if (!key.ok()) return key.status();
  std::string message;
  message.reserve(id.size() + body.size() + 24);
  message.append(id).append(".").append(std::to_string(timestamp)).append(".");
  message.append(body);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_size = 0;
  HMAC(EVP_sha256(), key->data(), static_cast<int>(key->size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(),
       mac, &mac_size);
  return "v1," +
         Base64Encode(std::string_view(reinterpret_cast<char*>(mac), mac_size));
}

absl::StatusOr<std::string> SignatureHeader(
    const std::vector<std::string>& secrets, std::string_view id,
    int64_t timestamp, std::string_view body) {
  std::string header;
  for (const std::string& secret : secrets) {
    absl::StatusOr<std::string> signature = Sign(secret, id, timestamp, body);
    if (!signature.ok()) return signature.status();
    if (!header.empty()) header.push_back(' ');
    header.append(*signature);
  }
  return header;
}

absl::Status Verify(std::string_view secret, std::string_view id,
                    int64_t timestamp, std::string_view body,
                    std::string_view header, int64_t now_s,
                    int64_t tolerance_s) {
  if (timestamp < now_s - tolerance_s || timestamp > now_s + tolerance_s) {
    return absl::PermissionDeniedError("webhook-timestamp out of tolerance");
  }
  absl::StatusOr<std::string> expected = Sign(secret, id, timestamp, body);
  if (!expected.ok()) return expected.status();
  while (!header.empty()) {
    const size_t space = header.find(' ');
    std::string_view candidate = header.substr(0, space);
    if (candidate.size() == expected->size() &&
        CRYPTO_memcmp(candidate.data(), expected->data(), candidate.size()) ==
            0) {
      return absl::OkStatus();
    }
    if (space == std::string_view::npos) break;
    header.remove_prefix(space + 1);
  }
  return absl::PermissionDeniedError("no matching webhook signature");
}

}  // namespace vigil::webhooks
