// Runs the real `vigil` binary (VIGIL_BINARY) on a temporary data directory.
// One component under test, the `vigil` CLI as a user runs it (append, read,
// stat, verify, init, the time-travel commands, bench); over ~500 lines
// because each command's test shares the fixture that spawns the binary and
// reads its output.

#include <fcntl.h>
#include <simdjson.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "eventlog/event.h"
#include "eventlog/event_log.h"
#include "eventlog/options.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "tests/testing/vigild_process.h"

extern char** environ;

namespace vigil {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;

struct Result {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// One line of NDJSON per event: {"type":type,"data":{"i":i}}.
std::string Events(std::string_view type, int count, int first = 0) {
  std::string out;
  for (int i = first; i < first + count; ++i) {
    absl::StrAppend(&out, R"({"type":")",
                    absl::string_view(type.data(), type.size()),
                    R"(","data":{"i":)", i, "}}\n");
  }
  return out;
}

class VigilCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "/vigil_cli_XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    data_dir_ = dir_ + "/data";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Runs vigil with `args`, `input` on stdin; --data-dir is added after
  // the subcommand unless `with_data_dir` is false.
  Result Vigil(std::vector<std::string> args, const std::string& input = "",
               bool with_data_dir = true) {
    if (with_data_dir && !args.empty()) {
      args.insert(args.begin() + 1, "--data-dir=" + data_dir_);
    }
    const std::string in_path = dir_ + "/stdin";
    const std::string out_path = dir_ + "/stdout";
    const std::string err_path = dir_ + "/stderr";
    std::ofstream(in_path, std::ios::binary) << input;

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, in_path.c_str(), O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<char*> argv;
    std::string binary = VIGIL_BINARY;
    argv.push_back(binary.data());
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    Result run;
    pid_t pid = 0;
    const int error = posix_spawn(&pid, binary.c_str(), &actions, nullptr,
                                  argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (error != 0) {
      ADD_FAILURE() << "cannot run " << binary << ": " << error;
      return run;
    }
    int status = 0;
    waitpid(pid, &status, 0);
    run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    run.out = ReadFile(out_path);
    run.err = ReadFile(err_path);
    return run;
  }

  // Appends and expects success.
  void Append(const std::string& stream, const std::string& input) {
    Result run = Vigil({"append", "--stream", stream}, input);
    ASSERT_EQ(run.exit_code, 0) << run.err;
  }

  std::string dir_;
  std::string data_dir_;
};

// The events of NDJSON `out`, one per line; `data` as minified JSON.
std::vector<eventlog::RecordedEvent> ParseLines(const std::string& out) {
  std::vector<eventlog::RecordedEvent> lines;
  simdjson::dom::parser parser;
  for (absl::string_view text : absl::StrSplit(out, '\n', absl::SkipEmpty())) {
    simdjson::dom::element root;
    if (parser.parse(text.data(), text.size()).get(root) != simdjson::SUCCESS) {
      ADD_FAILURE() << "not JSON: " << text;
      continue;
    }
    eventlog::RecordedEvent line;
    line.stream = std::string(std::string_view(root["stream"]));
    line.type = std::string(std::string_view(root["type"]));
    line.revision = uint64_t(root["revision"]);
    line.position = uint64_t(root["position"]);
    line.data = simdjson::to_string(root["data"]);
    lines.push_back(line);
  }
  return lines;
}

std::vector<uint64_t> Positions(const std::string& out) {
  std::vector<uint64_t> positions;
  for (const eventlog::RecordedEvent& line : ParseLines(out))
    positions.push_back(line.position);
  return positions;
}

std::vector<uint64_t> Revisions(const std::string& out) {
  std::vector<uint64_t> revisions;
  for (const eventlog::RecordedEvent& line : ParseLines(out))
    revisions.push_back(line.revision);
  return revisions;
}

TEST_F(VigilCliTest, AppendThenRead) {
  Result run = Vigil({"append", "--stream", "task-1"},
                     "{\"type\":\"TaskCreated\",\"data\":{\"task_id\":\"1\"}}\n"
                     "\n"
                     "  \r\n"
                     "{\"type\":\"TaskStarted\",\"data\":{\"w\":\"x\\ny\"},"
                     "\"metadata\":{\"trace_id\":\"t\"}}\r\n"
                     "{\"type\":\"TaskCompleted\",\"data\":{}}");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out,
            "{\"first_position\":1,\"last_position\":3,"
            "\"next_expected_revision\":2,\"deduplicated\":false}\n");
  EXPECT_THAT(run.err, IsEmpty());

  run = Vigil({"read"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::vector<eventlog::RecordedEvent> lines = ParseLines(run.out);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].stream, "task-1");
  EXPECT_EQ(lines[0].type, "TaskCreated");
  EXPECT_EQ(lines[0].data, R"({"task_id":"1"})");
  EXPECT_EQ(lines[1].data, R"({"w":"x\ny"})");
  EXPECT_EQ(lines[2].type, "TaskCompleted");
  EXPECT_THAT(run.out, HasSubstr(R"("metadata":{"trace_id":"t"})"));
  EXPECT_THAT(Positions(run.out), ElementsAre(1, 2, 3));

  run = Vigil({"read", "--stream", "task-1"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(Revisions(run.out), ElementsAre(0, 1, 2));

  run = Vigil({"read", "--stream=task-1", "--from=1", "--limit=1"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(Revisions(run.out), ElementsAre(1));

  run = Vigil({"read", "--stream", "task-1", "--backwards"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(Revisions(run.out), ElementsAre(2, 1, 0));

  run = Vigil({"read", "--backwards", "--from", "2"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(Positions(run.out), ElementsAre(2, 1));

  run = Vigil({"read", "--type", "TaskStarted", "--type", "TaskCompleted"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(Positions(run.out), ElementsAre(2, 3));

  run = Vigil({"read", "--stream", "task-1", "--type", "TaskCreated"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(Revisions(run.out), ElementsAre(0));
}

// More events than one page of reading, in two interleaved streams.
TEST_F(VigilCliTest, ReadPagesThroughLongLogs) {
  for (int round = 0; round < 3; ++round) {
    Append("agent-a", Events("AgentHeartbeat", 300, round * 300));
    Append("task-b", Events("TaskProgress", 10, round * 10));
  }
  const uint64_t head = 3 * 310;

  Result run = Vigil({"read"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::vector<uint64_t> positions = Positions(run.out);
  ASSERT_EQ(positions.size(), head);
  for (uint64_t i = 0; i < head; ++i) ASSERT_EQ(positions[i], i + 1);

  run = Vigil({"read", "--backwards"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  positions = Positions(run.out);
  ASSERT_EQ(positions.size(), head);
  for (uint64_t i = 0; i < head; ++i) ASSERT_EQ(positions[i], head - i);

  run = Vigil({"read", "--stream-prefix", "task-"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::vector<eventlog::RecordedEvent> lines = ParseLines(run.out);
  ASSERT_EQ(lines.size(), 30u);
  for (const eventlog::RecordedEvent& line : lines)
    EXPECT_EQ(line.stream, "task-b");
  EXPECT_EQ(lines[0].position, 301u);
  EXPECT_EQ(lines[29].position, head);

  run = Vigil(
      {"read", "--stream-prefix", "task-", "--backwards", "--limit", "12"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  lines = ParseLines(run.out);
  ASSERT_EQ(lines.size(), 12u);
  EXPECT_EQ(lines[0].position, head);
  EXPECT_EQ(lines[11].data, R"({"i":18})");

  run = Vigil({"read", "--stream", "agent-a", "--from", "250", "--limit", "0"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::vector<uint64_t> revisions = Revisions(run.out);
  ASSERT_EQ(revisions.size(), 650u);
  EXPECT_EQ(revisions.front(), 250u);
  EXPECT_EQ(revisions.back(), 899u);

  run = Vigil({"read", "--stream", "agent-a", "--backwards", "--limit", "700"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  revisions = Revisions(run.out);
  ASSERT_EQ(revisions.size(), 700u);
  EXPECT_EQ(revisions.front(), 899u);
  EXPECT_EQ(revisions.back(), 200u);

  run = Vigil({"read", "--from", "900", "--limit", "5"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(Positions(run.out), ElementsAre(900, 901, 902, 903, 904));
}

// What a message quotes of bad input (or of a damaged record) reaches the
// terminal as UTF-8 text: each byte that is not UTF-8 shows as U+FFFD.
TEST_F(VigilCliTest, MessagesAreUtf8Text) {
  Result run = Vigil({"read", "--x\xff"});
  EXPECT_EQ(run.exit_code, 64);  // usage
  EXPECT_THAT(run.err, HasSubstr("--x\xef\xbf\xbd"));
  run = Vigil({"re\xff\xfe" "ad"}, "", /*with_data_dir=*/false);
  EXPECT_EQ(run.exit_code, 64);  // usage
  EXPECT_THAT(run.err, HasSubstr("\"re\xef\xbf\xbd\xef\xbf\xbd" "ad\""));
  EXPECT_THAT(run.err, Not(HasSubstr("\xff")));
}

TEST_F(VigilCliTest, ExpectedRevisionConflict) {
  Result run =
      Vigil({"append", "--stream", "s", "--expected-revision", "no_stream"},
            Events("E", 2));
  ASSERT_EQ(run.exit_code, 0) << run.err;

  run = Vigil({"append", "--stream", "s", "--expected-revision", "no_stream"},
              Events("E", 1));
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, StartsWith("vigil: append rejected: ABORTED: "));
  EXPECT_THAT(run.out, IsEmpty());

  run = Vigil({"append", "--stream", "s", "--expected-revision", "0"},
              Events("E", 1));
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, StartsWith("vigil: append rejected: ABORTED: "));

  run = Vigil({"append", "--stream", "s", "--expected-revision", "1"},
              Events("E", 1));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr(R"("next_expected_revision":2)"));

  run =
      Vigil({"append", "--stream", "t", "--expected-revision", "stream_exists"},
            Events("E", 1));
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("ABORTED"));

  run = Vigil({"read"});
  EXPECT_THAT(Positions(run.out), ElementsAre(1, 2, 3));
}

TEST_F(VigilCliTest, IdempotencyKey) {
  Result first = Vigil({"append", "--stream", "s", "--idempotency-key", "k-1"},
                       Events("E", 2));
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_THAT(first.out, HasSubstr(R"("deduplicated":false)"));
  Result second = Vigil({"append", "--stream", "s", "--idempotency-key", "k-1"},
                        Events("E", 2));
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(second.out,
            "{\"first_position\":1,\"last_position\":2,"
            "\"next_expected_revision\":1,\"deduplicated\":true}\n");
  Result other = Vigil({"append", "--stream", "s", "--idempotency-key", "k-1"},
                       Events("E", 3));
  EXPECT_EQ(other.exit_code, 1);
  EXPECT_THAT(other.err,
              StartsWith("vigil: append rejected: FAILED_PRECONDITION: "));
}

TEST_F(VigilCliTest, BadInputAppendsNothing) {
  Append("s", Events("E", 1));

  Result run = Vigil({"append", "--stream", "s"},
                     Events("E", 1) + "{\"type\":\"E\",\"data\":{}\n");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(
      run.err,
      StartsWith("vigil: stdin line 2: INVALID_ARGUMENT: invalid JSON"));

  run = Vigil({"append", "--stream", "s"}, "{\"data\":{}}\n");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("stdin line 1: INVALID_ARGUMENT: type:"));

  run = Vigil({"append", "--stream", "s"}, "\n  \n");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("no events on stdin"));

  // Rejected by the log rather than the parser.
  run = Vigil({"append", "--stream", "bad name"}, Events("E", 1));
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, StartsWith("vigil: append rejected: INVALID_ARGUMENT"));
  run = Vigil({"append", "--stream", "s"}, R"({"type":"1bad","data":{}})");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, StartsWith("vigil: append rejected: INVALID_ARGUMENT"));

  run = Vigil({"stat"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr(R"("head_position":1,)"));
}

TEST_F(VigilCliTest, UsageErrors) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"append", "--stream", "s", "--bogus"}, "unknown flag --bogus"},
      {{"append", "--stream", "s", "-x"}, "unknown flag \"-x\""},
      {{"append", "--stream", "s", "extra"}, "unexpected argument \"extra\""},
      {{"append"}, "--stream is required"},
      {{"append", "--stream"}, "--stream needs a value"},
      {{"append", "--stream", "--expected-revision", "any"},
       "--stream needs a value"},
      {{"append", "--stream", "s", "--stream", "t"},
       "--stream given more than once"},
      {{"append", "--stream", "s", "--expected-revision", "latest"},
       "expected revision"},
      {{"read", "--limit", "ten"}, "--limit"},
      {{"read", "--from", "-1"}, "--from"},
      {{"read", "--backwards=maybe"}, "--backwards"},
      {{"read", "--stream", "s", "--stream-prefix", "t"}, "--stream-prefix"},
      {{"verify", "--from", "5", "--to", "2"}, "--from"},
      {{"stat", "--stream", "s"}, "unknown flag --stream"},
  };
  for (const Case& c : cases) {
    Result run = Vigil(c.args, Events("E", 1));
    EXPECT_EQ(run.exit_code, 64) << c.args[0] << " " << run.err;
    EXPECT_THAT(run.err, HasSubstr(c.message));
    EXPECT_THAT(run.err, HasSubstr("Run 'vigil help " + c.args[0] + "'"));
  }
  EXPECT_FALSE(std::filesystem::exists(data_dir_));

  Result run = Vigil({"frobnicate"});
  EXPECT_EQ(run.exit_code, 64);
  EXPECT_THAT(run.err, HasSubstr("unknown command \"frobnicate\""));
  EXPECT_THAT(run.err, HasSubstr("vigil --help"));

  run = Vigil({}, "", /*with_data_dir=*/false);
  EXPECT_EQ(run.exit_code, 64);
  EXPECT_THAT(run.err, HasSubstr("Usage: vigil <command>"));

  run = Vigil({"help", "frobnicate"}, "", /*with_data_dir=*/false);
  EXPECT_EQ(run.exit_code, 64);
}

TEST_F(VigilCliTest, Help) {
  Result run = Vigil({"--help"}, "", /*with_data_dir=*/false);
  EXPECT_EQ(run.exit_code, 0);
  for (const char* text :
       {"append", "read", "verify", "stat", "help", "Exit codes", "  64 "}) {
    EXPECT_THAT(run.out, HasSubstr(text));
  }
  Result help = Vigil({"help"}, "", /*with_data_dir=*/false);
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_EQ(help.out, run.out);

  run = Vigil({"help", "read"}, "", /*with_data_dir=*/false);
  EXPECT_EQ(run.exit_code, 0);
  for (const char* flag :
       {"--data-dir DIR", "--stream S", "--from N", "--limit N", "--backwards",
        "--stream-prefix P", "--type T"}) {
    EXPECT_THAT(run.out, HasSubstr(flag));
  }
  Result inline_help = Vigil({"read", "--from", "3", "--help"});
  EXPECT_EQ(inline_help.exit_code, 0);
  EXPECT_EQ(inline_help.out, run.out);

  run = Vigil({"help", "append"}, "", /*with_data_dir=*/false);
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_THAT(run.out, HasSubstr("--expected-revision R"));
  EXPECT_THAT(run.out, HasSubstr("--idempotency-key K"));
}

TEST_F(VigilCliTest, MissingLogAndStream) {
  Result run = Vigil({"read"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err,
              StartsWith("vigil: cannot open the log in " + data_dir_));
  run = Vigil({"stat"});
  EXPECT_EQ(run.exit_code, 1);
  run = Vigil({"verify"});
  EXPECT_EQ(run.exit_code, 1);

  Append("s", Events("E", 1));
  run = Vigil({"read", "--stream", "nope"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, StartsWith("vigil: read failed: NOT_FOUND: "));
}

TEST_F(VigilCliTest, InitCreatesThenReopens) {
  Result created = Vigil({"init"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  EXPECT_NE(created.out.find("\"head_position\":0"), std::string::npos)
      << created.out;
  Append("a", Events("E", 2));
  Result reopened = Vigil({"init"});
  ASSERT_EQ(reopened.exit_code, 0) << reopened.err;
  EXPECT_NE(reopened.out.find("\"head_position\":2"), std::string::npos)
      << reopened.out;
}

TEST_F(VigilCliTest, Stat) {
  Append("a", Events("E", 2));
  Append("b", Events("E", 3));
  Result run = Vigil({"stat"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  ASSERT_EQ(parser.parse(run.out).get(root), simdjson::SUCCESS) << run.out;
  EXPECT_EQ(uint64_t(root["head_position"]), 5u);
  EXPECT_EQ(uint64_t(root["stream_count"]), 2u);
  EXPECT_GT(uint64_t(root["disk_bytes"]), 0u);
  EXPECT_EQ(root["records_bytes"].error(), simdjson::NO_SUCH_FIELD);
}

TEST_F(VigilCliTest, StatByKindCountsEachKindOfKey) {
  // 40 events of over 1,000 bytes each; one append with an idempotency key.
  const std::string big(1000, 'x');
  std::string events;
  for (int i = 0; i < 40; ++i) {
    events += R"({"type":"E","data":{"v":")" + big + "\"}}\n";
  }
  Append("a", events);
  Result keyed = Vigil({"append", "--stream", "b", "--idempotency-key", "k1"},
                       Events("E", 1));
  ASSERT_EQ(keyed.exit_code, 0) << keyed.err;

  Result run = Vigil({"stat", "--by-kind"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  ASSERT_EQ(parser.parse(run.out).get(root), simdjson::SUCCESS) << run.out;
  EXPECT_EQ(uint64_t(root["head_position"]), 41u);
  const uint64_t records = uint64_t(root["records_bytes"]);
  EXPECT_GE(records, 40u * 1000u) << run.out;
  EXPECT_LT(records, 40u * 2000u) << run.out;
  // Two streams' index entries and metadata: far less than the events.
  EXPECT_GT(uint64_t(root["streams_bytes"]), 0u) << run.out;
  EXPECT_LT(uint64_t(root["streams_bytes"]), 1000u) << run.out;
  // One key: its `i` entry (64-byte value) and its `x` expiry entry.
  EXPECT_GT(uint64_t(root["idempotency_bytes"]), 64u) << run.out;
  EXPECT_LT(uint64_t(root["idempotency_bytes"]), 200u) << run.out;
  EXPECT_EQ(uint64_t(root["snapshot_bytes"]), 0u) << run.out;
}

// Overwrites one byte inside the record at `position`, with RocksDB itself,
// as an attacker with the files would.
void TamperWithRecord(const std::string& dir, uint64_t position) {
  std::string key = "p";
  for (int shift = 56; shift >= 0; shift -= 8) {
    key.push_back(static_cast<char>((position >> shift) & 0xff));
  }
  std::vector<std::string> names;
  ASSERT_TRUE(
      rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir, &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (const std::string& name : names) {
    families.emplace_back(name, rocksdb::ColumnFamilyOptions());
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status status =
      rocksdb::DB::Open(rocksdb::DBOptions(), dir, families, &handles, &raw);
  ASSERT_TRUE(status.ok()) << status.ToString();
  std::unique_ptr<rocksdb::DB> db(raw);
  bool tampered = false;
  for (rocksdb::ColumnFamilyHandle* handle : handles) {
    std::string value;
    if (!tampered &&
        db->Get(rocksdb::ReadOptions(), handle, key, &value).ok()) {
      ASSERT_FALSE(value.empty());
      value[value.size() / 2] ^= 0x01;
      rocksdb::WriteOptions sync;
      sync.sync = true;
      ASSERT_TRUE(db->Put(sync, handle, key, value).ok());
      tampered = true;
    }
    ASSERT_TRUE(db->DestroyColumnFamilyHandle(handle).ok());
  }
  ASSERT_TRUE(db->Close().ok());
  ASSERT_TRUE(tampered) << "no record at position " << position;
}

TEST_F(VigilCliTest, Verify) {
  Append("s", Events("E", 3));
  Result run = Vigil({"verify"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("ok"));
  EXPECT_THAT(run.out, HasSubstr("3 events checked"));
  run = Vigil({"verify", "--from", "2", "--to", "3"});
  EXPECT_EQ(run.exit_code, 0) << run.err;

  TamperWithRecord(data_dir_, 2);
  run = Vigil({"verify"});
  EXPECT_EQ(run.exit_code, 2) << run.out;
  EXPECT_THAT(run.err, HasSubstr("mismatch at position 2: "));
  run = Vigil({"verify", "--to", "1"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
}

TEST_F(VigilCliTest, ReadersWorkWhileAWriterHoldsTheLog) {
  absl::StatusOr<std::unique_ptr<eventlog::EventLog>> log =
      eventlog::EventLog::Open(eventlog::Options(), data_dir_);
  ASSERT_TRUE(log.ok()) << log.status();
  eventlog::AppendRequest request;
  request.stream = "agent-1";
  for (const char* type : {"AgentRegistered", "AgentHeartbeat"}) {
    eventlog::EventData event;
    event.type = type;
    event.data = "{\"a\":1}";
    request.events.push_back(event);
  }
  ASSERT_TRUE((*log)->Append(request).ok());

  Result run = Vigil({"read"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(Positions(run.out), ElementsAre(1, 2));

  ASSERT_TRUE((*log)->Append(request).ok());
  run = Vigil({"read", "--stream", "agent-1"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(Revisions(run.out), ElementsAre(0, 1, 2, 3));

  run = Vigil({"stat"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr(R"("head_position":4,)"));
  run = Vigil({"verify"});
  EXPECT_EQ(run.exit_code, 0) << run.err;

  // Only one writer: append from another process is refused.
  run = Vigil({"append", "--stream", "agent-1"}, Events("E", 1));
  EXPECT_EQ(run.exit_code, 1);
  // (RocksDB's own warning about the lock may come first.)
  EXPECT_THAT(run.err, HasSubstr("vigil: cannot open the log in "));
}

}  // namespace
}  // namespace vigil

namespace vigil {
namespace {

// Time travel, replay, export and import on a data directory.
class VigilTravelCliTest : public VigilCliTest {
 protected:
  // Positions 1..3: a worker registers, heartbeats, stops; 4..5: other
  // streams.
  void AppendDomainEvents() {
    Append("agent-a1",
           R"({"type":"AgentRegistered","data":{"agent_id":"a1","role":"worker","name":"W"}})"
           "\n"
           R"({"type":"AgentHeartbeat","data":{"agent_id":"a1","cpu_pct":5.5,"mem_bytes":10,"queue_depth":1}})"
           "\n"
           R"({"type":"AgentStopped","data":{"agent_id":"a1","reason":"done"}})"
           "\n");
    Append("other", Events("E", 2));
  }
};

TEST_F(VigilTravelCliTest, StateAndDiffAtPositions) {
  AppendDomainEvents();
  Result run = Vigil({"state", "--at", "2", "--agent", "a1"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, StartsWith(R"({"position":2,)"));
  EXPECT_THAT(run.out, HasSubstr(R"("status":"idle")"));
  EXPECT_THAT(run.out, HasSubstr(R"("cpu_pct":5.5)"));
  run = Vigil({"state", "--at", "3", "--agent", "a1"});
  EXPECT_THAT(run.out, HasSubstr(R"("status":"stopped","stopped_reason":"done")"));
  run = Vigil({"state"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr(R"("agents":[{"agent_id":"a1")"));
  run = Vigil({"state", "--at", "0", "--agent", "a1"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("NOT_FOUND"));
  run = Vigil({"state", "--at", "9"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("past the head position 5"));
  EXPECT_EQ(Vigil({"state", "--at", "1", "--at-time", "1"}).exit_code, 64);

  run = Vigil({"diff", "--from", "1", "--to", "3"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr(R"("kind":"agent","key":{"agent_id":"a1"})"));
  EXPECT_THAT(run.out, HasSubstr(R"("positions":[2,3],"position_count":2)"));
}

TEST_F(VigilTravelCliTest, ReplayFiltersRangesAndTable) {
  AppendDomainEvents();
  Result run = Vigil({"replay", "--stream-prefix", "oth"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(Positions(run.out), ElementsAre(4, 5));
  run = Vigil({"replay", "--type", "AgentHeartbeat", "--type", "E", "--to",
               "4"});
  EXPECT_THAT(Positions(run.out), ElementsAre(2, 4));
  run = Vigil({"replay", "--from", "2", "--to", "3"});
  EXPECT_THAT(Positions(run.out), ElementsAre(2, 3));
  run = Vigil({"replay", "--from-time", "2200-01-01T00:00:00Z"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, IsEmpty());
  run = Vigil({"replay", "--format", "table", "--to", "1"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, StartsWith("  POSITION  RECORDED"));
  EXPECT_THAT(run.out, HasSubstr("agent-a1"));
  EXPECT_THAT(run.out, HasSubstr("AgentRegistered"));
  EXPECT_EQ(Vigil({"replay", "--format", "xml"}).exit_code, 64);
}

TEST_F(VigilTravelCliTest, ExportImportReproducesTheChainAndTheState) {
  AppendDomainEvents();
  Append("bin", R"({"type":"B","content_type":"application/octet-stream","data_base64":"AAEC/w=="})"
                "\n");
  Result exported = Vigil({"export"});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  const std::string copy = "--data-dir=" + dir_ + "/copy";
  Result imported = Vigil({"import", copy}, exported.out, false);
  ASSERT_EQ(imported.exit_code, 0) << imported.err;
  EXPECT_THAT(imported.out, HasSubstr("imported 6 events"));
  Result again = Vigil({"export", copy}, "", false);
  EXPECT_EQ(again.out, exported.out);
  Result verified = Vigil({"verify", "--state-at", "6", copy}, "", false);
  ASSERT_EQ(verified.exit_code, 0) << verified.err;
  Result original = Vigil({"verify", "--state-at", "6"});
  EXPECT_EQ(verified.out, original.out);
  EXPECT_THAT(original.out, HasSubstr("state at 6: agents sha256:"));

  // An edited export is refused at the edited event: nothing of it lands.
  std::string edited = exported.out;
  const size_t at = edited.find("\"hash\":\"") + 8;  // the first event's
  edited[at] = edited[at] == '0' ? '1' : '0';
  Result refused = Vigil({"import", "--data-dir=" + dir_ + "/bad"}, edited,
                         false);
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_THAT(refused.err, HasSubstr("does not chain"));
}

// verify --server recomputes the chain from the events the server sends and
// folds them here: the same digests as the data directory gives, and a
// record tampered with on the server's disk is caught by the client.
TEST_F(VigilTravelCliTest, VerifyAgainstAServerChecksTheChainItself) {
  AppendDomainEvents();
  // Each start binds fresh ports (":0") and logs to its own file, so no
  // test running in parallel can take the port in between.
  int starts = 0;
  std::string server;
  auto start = [&] {
    const std::string log = absl::StrCat(dir_, "/vigild-", ++starts, ".log");
    auto vigild = std::make_unique<testing::VigildProcess>(
        VIGILD_BINARY,
        std::vector<std::string>{"--data-dir", data_dir_, "--grpc-listen",
                                 "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
                                 "--projections", "off", "--webhooks", "off"},
        log);
    server = absl::StrCat("--server=127.0.0.1:", vigild->WaitForPorts().first);
    return vigild;
  };
  auto vigild = start();
  Result run;
  for (int i = 0; i < 100; ++i) {  // until it listens
    run = Vigil({"verify", server}, "", false);
    if (run.exit_code == 0) break;
    usleep(100'000);
  }
  ASSERT_EQ(run.exit_code, 0) << run.err << ReadFile(dir_ + "/vigild-1.log");
  EXPECT_THAT(run.out, HasSubstr("5 events checked (recomputed by this client"));

  Result remote = Vigil({"verify", server, "--state-at", "3"}, "", false);
  ASSERT_EQ(remote.exit_code, 0) << remote.err;
  Result local = Vigil({"verify", "--state-at", "3"});  // while vigild runs
  ASSERT_EQ(local.exit_code, 0) << local.err;
  auto digests = [](const std::string& out) {
    return out.substr(out.find("state at 3: "));
  };
  EXPECT_EQ(digests(remote.out), digests(local.out));
  EXPECT_THAT(remote.out, HasSubstr("state at 3: agents sha256:"));

  run = Vigil({"verify", server, "--from", "2", "--to", "4"}, "", false);
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("3 events checked"));
  run = Vigil({"verify", server, "--to", "9"}, "", false);
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err, HasSubstr("mismatch at position 6: the server has no"));
  run = Vigil({"verify", server, "--state-at", "9"}, "", false);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("past the head 5"));

  // The server serves a record changed on its disk as it is; the client's
  // own hash catches it.
  EXPECT_EQ(vigild->Terminate(), 0);
  TamperWithRecord(data_dir_, 2);
  vigild = start();
  for (int i = 0; i < 100; ++i) {
    run = Vigil({"verify", server}, "", false);
    if (run.exit_code != 1) break;  // 1: not listening yet
    usleep(100'000);
  }
  EXPECT_EQ(run.exit_code, 2) << run.out << run.err;
  EXPECT_THAT(run.err, HasSubstr("mismatch at position 2: hash does not match"));
  run = Vigil({"verify", server, "--to", "1"}, "", false);
  EXPECT_EQ(run.exit_code, 0) << run.err;
}

// `vigil bench append|echo` (issue 3's form; --what W is the same) runs and
// reports one JSON line; append loads a real vigild.
TEST_F(VigilCliTest, BenchEchoAndAppendReportOneJsonLineEach) {
  Result run = Vigil({"bench", "echo", "--clients", "2", "--duration", "1"},
                     "", false);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, StartsWith(R"({"bench":"echo","calls":)"));
  EXPECT_THAT(run.out, HasSubstr(R"("errors":0,)"));

  testing::VigildProcess vigild(
      VIGILD_BINARY,
      {"--data-dir", data_dir_, "--grpc-listen", "127.0.0.1:0", "--http-listen",
       "127.0.0.1:0", "--projections", "off", "--webhooks", "off"},
      dir_ + "/vigild.log");
  const int grpc_port = vigild.WaitForPorts().first;
  ASSERT_GT(grpc_port, 0) << "vigild did not start; see " << dir_;
  const std::string address = absl::StrCat("127.0.0.1:", grpc_port);
  for (int i = 0; i < 100; ++i) {
    run = Vigil({"bench", "--what", "append", "--server", address, "--clients",
                 "2", "--events", "3", "--duration", "1"},
                "", false);
    if (run.exit_code == 0) break;
    usleep(100'000);
  }
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, StartsWith(R"({"bench":"append","calls":)"));
  EXPECT_THAT(run.out, HasSubstr(R"("errors":0,)"));
  // Paced: 100 calls/s for 1 s over both clients, latency also from sending.
  run = Vigil({"bench", "append", "--server", address, "--clients", "2",
               "--events", "1", "--rate", "100", "--duration", "1"},
              "", false);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr(R"("sent_p50_us":)"));
  EXPECT_THAT(run.out, HasSubstr(R"("sent_p99_us":)"));
  int calls = 0;
  ASSERT_EQ(std::sscanf(run.out.c_str(), R"({"bench":"append","calls":%d)", &calls), 1)
      << run.out;
  EXPECT_GE(calls, 90) << run.out;   // 100 scheduled; a late one still runs
  EXPECT_LE(calls, 102) << run.out;  // never more than the schedule
  // Sessions, with a key on every append.
  run = Vigil({"bench", "session", "--server", address, "--clients", "2",
               "--depth", "4", "--duration", "1", "--idempotency-keys"},
              "", false);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, StartsWith(R"({"bench":"session","calls":)"));
  EXPECT_THAT(run.out, HasSubstr(R"("errors":0,)"));
  EXPECT_EQ(vigild.Terminate(), 0);
  // Every event it acknowledged is in the log, chain intact.
  run = Vigil({"verify"});
  EXPECT_EQ(run.exit_code, 0) << run.err;

  run = Vigil({"bench", "sideways"}, "", false);
  EXPECT_EQ(run.exit_code, 64);
  EXPECT_THAT(run.err, HasSubstr("vigil bench append|session|echo|live"));
}

// `vigil bench live` against a real vigild: its clients parse every frame
// (written in batches by gateway/internal/live_socket.h), every event
// reaches every client, and it reports the server's CPU (--pid) and its
// own per frame.
TEST_F(VigilCliTest, BenchLiveDeliversEveryEventAndReportsCpuPerFrame) {
  testing::VigildProcess vigild(
      VIGILD_BINARY,
      {"--data-dir", data_dir_, "--grpc-listen", "127.0.0.1:0",
       "--http-listen", "127.0.0.1:0", "--projections", "off", "--webhooks",
       "off"},
      dir_ + "/vigild.log");
  ASSERT_TRUE(vigild.started());
  const auto [grpc_port, http_port] = vigild.WaitForPorts();
  ASSERT_GT(grpc_port, 0) << "vigild did not start; see " << dir_;
  const std::string grpc = absl::StrCat("127.0.0.1:", grpc_port);
  const std::string http = absl::StrCat("127.0.0.1:", http_port);
  Result run;
  for (int i = 0; i < 100; ++i) {
    run = Vigil({"bench", "live", "--server", grpc, "--http", http,
                 "--connections", "20", "--rate", "400", "--duration", "1",
                 "--pid", std::to_string(vigild.pid())},
                "", false);
    if (run.exit_code == 0 || run.out.find("\"appended\":0,") == std::string::npos) {
      break;  // not a start-up race
    }
    usleep(100'000);
  }
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  simdjson::dom::parser parser;
  simdjson::dom::element line;
  ASSERT_EQ(parser.parse(run.out).get(line), simdjson::SUCCESS) << run.out;
  const uint64_t appended = line["appended"].get_uint64().value();
  EXPECT_GE(appended, 300u) << run.out;
  EXPECT_EQ(line["deliveries"].get_uint64().value(), 20 * appended) << run.out;
  EXPECT_EQ(line["missing"].get_uint64().value(), 0u) << run.out;
  EXPECT_EQ(line["failed_connections"].get_uint64().value(), 0u) << run.out;
  EXPECT_EQ(line["cpu"]["frames"].get_uint64().value(), 20 * appended)
      << run.out;
  EXPECT_GT(line["cpu"]["server_us_per_frame"].get_double().value(), 0)
      << run.out;
  EXPECT_GT(line["cpu"]["client_us_per_frame"].get_double().value(), 0)
      << run.out;
  EXPECT_GT(line["vigild_rss_bytes"]["connected_idle"].get_uint64().value(),
            0u)
      << run.out;
  EXPECT_EQ(vigild.Terminate(), 0);
}

}  // namespace
}  // namespace vigil
