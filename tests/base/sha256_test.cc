#include "base/sha256.h"

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"

namespace vigil::base {
namespace {

std::string Hex(const std::string& digest) {
  return absl::BytesToHexString(digest);
}

// FIPS 180-2's examples.
TEST(Sha256Test, KnownDigests) {
  EXPECT_EQ(Hex(Sha256Digest("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Hex(Sha256Digest("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(
      Hex(Sha256Digest(
          "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256Test, UpdatesInPiecesEqualOneDigest) {
  Sha256 sha;
  sha.Update("a");
  sha.Update("");
  sha.Update("bc");
  std::string digest = "reused buffer";
  sha.FinalInto(&digest);
  EXPECT_EQ(digest, Sha256Digest("abc"));
  // The thread's context is reset for the next digest.
  Sha256 again;
  again.Update("abc");
  EXPECT_EQ(again.Final(), digest);
}

TEST(Sha256Test, ThreadsHashIndependently) {
  const std::string expected = Sha256Digest("vigil");
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        Sha256 sha;
        sha.Update("vig");
        sha.Update("il");
        if (sha.Final() != expected) ++mismatches[t];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(mismatches, std::vector<int>(4, 0));
}

}  // namespace
}  // namespace vigil::base
