// SHA-256, through OpenSSL 3's EVP interface with the algorithm fetched
// once per process and one digest context per thread: the one-shot
// SHA256() and EVP_Digest(..., EVP_sha256(), ...) look the algorithm up in
// the provider on every call, which costs more than hashing a short input.
//
// Thread-safe: each thread hashes with its own context. A Sha256 object is
// used by one thread, one digest at a time (it borrows that context).

#ifndef VIGIL_BASE_SHA256_H_
#define VIGIL_BASE_SHA256_H_

#include <cstddef>
#include <string>
#include <string_view>

typedef struct evp_md_ctx_st EVP_MD_CTX;

namespace vigil::base {

inline constexpr size_t kSha256Bytes = 32;

class Sha256 {
 public:
  Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(std::string_view bytes);
  // The 32-byte digest of everything updated since construction.
  std::string Final();
  // Into *digest's own buffer: no allocation once it has held a digest.
  void FinalInto(std::string* digest);

 private:
  EVP_MD_CTX* ctx_;
};

// The 32-byte digest of `bytes`.
std::string Sha256Digest(std::string_view bytes);

}  // namespace vigil::base

#endif  // VIGIL_BASE_SHA256_H_
