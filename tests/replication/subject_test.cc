// The subject of a Vigil stream (replication/subject.h): one token, every
// byte outside [A-Za-z0-9_:-] escaped, and the way back.

#include "replication/subject.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace vigil::replication {
namespace {

struct Case {
  std::string stream;
  std::string subject;
};

TEST(SubjectTest, EscapesWhatWouldSplitOrWidenTheToken) {
  for (const Case& c : {Case{"orders", "vigil.orders"},
                        Case{"orders.eu", "vigil.orders%2Eeu"},
                        Case{"$otlp.spans", "vigil.%24otlp%2Espans"},
                        Case{"a:b-c_d", "vigil.a:b-c_d"},
                        Case{"x*>y %", "vigil.x%2A%3Ey%20%25"}}) {
    EXPECT_EQ(SubjectFor("vigil", c.stream), c.subject) << c.stream;
    absl::StatusOr<std::string> back = StreamOfSubject("vigil", c.subject);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, c.stream);
  }
}

TEST(SubjectTest, RefusesSubjectsItDidNotWrite) {
  for (const std::string subject :
       {"other.orders", "vigil", "vigil.", "vigil.a.b", "vigil.%2e",
        "vigil.%41", "vigil.%2", "vigil.%ZZ"}) {
    EXPECT_FALSE(StreamOfSubject("vigil", subject).ok()) << subject;
  }
}

TEST(SubjectTest, ChecksThePrefix) {
  EXPECT_TRUE(CheckSubjectPrefix("vigil").ok());
  EXPECT_TRUE(CheckSubjectPrefix("prod.vigil-1").ok());
  for (const std::string& prefix :
       std::vector<std::string>{"", ".vigil", "vigil.", "a..b", "vigil.*", "vigil.>", "$JS",
        "has space", std::string(101, 'a')}) {
    EXPECT_FALSE(CheckSubjectPrefix(prefix).ok()) << prefix;
  }
}

}  // namespace
}  // namespace vigil::replication
