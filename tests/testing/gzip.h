// Gzip (RFC 1952) of a string with zlib, for tests that send compressed
// bodies.

#ifndef VIGIL_TESTS_TESTING_GZIP_H_
#define VIGIL_TESTS_TESTING_GZIP_H_

#include <zlib.h>

#include <string>

namespace vigil::testing {

inline std::string Gzip(const std::string& text) {
  z_stream stream{};
  deflateInit2(&stream, Z_BEST_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 9,
               Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&stream, text.size()), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  stream.avail_in = static_cast<uInt>(text.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

}  // namespace vigil::testing

#endif  // VIGIL_TESTS_TESTING_GZIP_H_
