#include "projections/webhooks/internal/secret_box.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "projections/webhooks/signature.h"

namespace vigil::webhooks::internal {
namespace {

constexpr size_t kKeyBytes = 32;
constexpr size_t kNonceBytes = 12;
constexpr size_t kTagBytes = 16;

absl::Status Errno(const std::string& what, const std::string& path) {
  return absl::UnavailableError(what + " " + path + ": " +
                                std::strerror(errno));
}

}  // namespace

absl::StatusOr<std::unique_ptr<SecretBox>> SecretBox::Open(
    const std::string& key_path) {
  std::string key(kKeyBytes, '\0');
  int fd = ::open(key_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    const ssize_t n = ::read(fd, key.data(), key.size());
    ::close(fd);
    if (n != static_cast<ssize_t>(kKeyBytes)) {
      return absl::DataLossError("webhook key file " + key_path +
                                 " is not 32 bytes");
    }
    return std::unique_ptr<SecretBox>(new SecretBox(std::move(key)));
  }
  if (errno != ENOENT) return Errno("cannot read", key_path);
  if (RAND_bytes(reinterpret_cast<unsigned char*>(key.data()),
                 static_cast<int>(key.size())) != 1) {
    std::abort();  // no entropy: a broken host
  }
  fd = ::open(key_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Errno("cannot create", key_path);
  const bool written =
      ::write(fd, key.data(), key.size()) == static_cast<ssize_t>(key.size()) &&
      ::fsync(fd) == 0;
  ::close(fd);
  if (!written) return Errno("cannot write", key_path);
  return std::unique_ptr<SecretBox>(new SecretBox(std::move(key)));
}

std::string SecretBox::Seal(std::string_view plaintext) const {
  std::string out(kNonceBytes + plaintext.size() + kTagBytes, '\0');
  auto* bytes = reinterpret_cast<unsigned char*>(out.data());
  if (RAND_bytes(bytes, kNonceBytes) != 1) std::abort();
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  int length = 0;
  EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr,
                     reinterpret_cast<const unsigned char*>(key_.data()),
                     bytes);
  EVP_EncryptUpdate(ctx, bytes + kNonceBytes, &length,
                    reinterpret_cast<const unsigned char*>(plaintext.data()),
                    static_cast<int>(plaintext.size()));
  EVP_EncryptFinal_ex(ctx, bytes + kNonceBytes + length, &length);
  EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, kTagBytes,
                      bytes + kNonceBytes + plaintext.size());
  EVP_CIPHER_CTX_free(ctx);
  return Base64Encode(out);
}

absl::StatusOr<std::string> SecretBox::Unseal(std::string_view sealed) const {
  absl::StatusOr<std::string> raw = Base64Decode(sealed);
  if (!raw.ok() || raw->size() < kNonceBytes + kTagBytes) {
    return absl::DataLossError("a sealed webhook secret is malformed");
  }
  const auto* bytes = reinterpret_cast<const unsigned char*>(raw->data());
  const size_t size = raw->size() - kNonceBytes - kTagBytes;
  std::string plaintext(size, '\0');
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  int length = 0;
  EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr,
                     reinterpret_cast<const unsigned char*>(key_.data()),
                     bytes);
  EVP_DecryptUpdate(ctx, reinterpret_cast<unsigned char*>(plaintext.data()),
                    &length, bytes + kNonceBytes, static_cast<int>(size));
  EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, kTagBytes,
                      const_cast<unsigned char*>(bytes + kNonceBytes + size));
  const int ok = EVP_DecryptFinal_ex(
      ctx, reinterpret_cast<unsigned char*>(plaintext.data()) + length,
      &length);
  EVP_CIPHER_CTX_free(ctx);
  if (ok != 1) {
    return absl::DataLossError(
        "a webhook secret does not open with this server's key file");
  }
  return plaintext;
}

}  // namespace vigil::webhooks::internal
