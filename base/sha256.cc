#include "base/sha256.h"

#include <openssl/evp.h>

namespace vigil::base {
namespace {

// Fetched once (0.58-0.70 us per 452 B event hash with EVP_sha256() against
// 0.38-0.43 us fetched). Never freed: it lives as long as the process.
const EVP_MD* Algorithm() {
  static const EVP_MD* const md = [] {
    const EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    return fetched != nullptr ? fetched : EVP_sha256();
  }();
  return md;
}

EVP_MD_CTX* ThreadContext() {
  struct Holder {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ~Holder() { EVP_MD_CTX_free(ctx); }
  };
  thread_local Holder holder;
  return holder.ctx;
}

}  // namespace

Sha256::Sha256() : ctx_(ThreadContext()) {
  EVP_DigestInit_ex(ctx_, Algorithm(), nullptr);
}

void Sha256::Update(std::string_view bytes) {
  EVP_DigestUpdate(ctx_, bytes.data(), bytes.size());
}

std::string Sha256::Final() {
  std::string digest;
  FinalInto(&digest);
  return digest;
}

void Sha256::FinalInto(std::string* digest) {
  digest->resize(kSha256Bytes);
  unsigned int n = 0;
  EVP_DigestFinal_ex(ctx_, reinterpret_cast<unsigned char*>(digest->data()),
                     &n);
}

std::string Sha256Digest(std::string_view bytes) {
  Sha256 sha;
  sha.Update(bytes);
  return sha.Final();
}

}  // namespace vigil::base
