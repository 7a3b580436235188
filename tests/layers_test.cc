// The modules' include graph, checked against the layering every module's
// README states (docs/architecture.md): dependencies point one way, so no
// module includes a module above it and there are no cycles; PostgreSQL's
// client library stays inside projections/internal/; projections/ knows
// nothing of the HTTP gateway; the core of api/ (library vigil::api_core),
// projections/ and the gateway's typed routes include nothing of gRPC.
// Reads the source tree as text, like a
// reviewer would: an `#include "module/..."` is an edge.

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace vigil {
namespace {

namespace fs = std::filesystem;

// Each module and the modules it may include. Listed bottom up: a module
// may only name modules listed before it.
const std::vector<std::pair<std::string, std::set<std::string>>>& Layers() {
  static const auto* layers =
      new std::vector<std::pair<std::string, std::set<std::string>>>{
          {"base", {}},
          {"schemas", {}},
          {"eventlog", {"base"}},
          {"replication", {"base", "eventlog"}},
          {"domain", {"base", "eventlog"}},
          {"api", {"base", "eventlog", "domain", "schemas"}},
          {"otlp", {"base", "eventlog", "domain", "api", "schemas"}},
          {"projections", {"base", "eventlog", "domain", "api", "schemas"}},
          {"gateway",
           {"base", "eventlog", "domain", "api", "schemas", "otlp"}},
          {"tools",
           {"base", "eventlog", "replication", "domain", "api", "schemas",
            "otlp", "projections", "gateway"}},
          {"benchmarks",
           {"base", "eventlog", "replication", "domain", "api", "schemas",
            "otlp", "projections", "gateway", "tools"}},
      };
  return *layers;
}

struct Include {
  std::string file;  // relative to the source tree
  std::string target;
};

bool IsSource(const fs::path& path) {
  const std::string ext = path.extension().string();
  return ext == ".cc" || ext == ".h" || ext == ".in";
}

// Every quoted and angled include of the module's sources.
std::vector<Include> IncludesOf(const std::string& module) {
  static const std::regex include_re(R"re(^\s*#\s*include\s*["<]([^">]+)[">])re");
  std::vector<Include> includes;
  const fs::path root = fs::path(VIGIL_SOURCE_DIR) / module;
  if (!fs::exists(root)) return includes;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    const std::string relative =
        fs::relative(entry.path(), VIGIL_SOURCE_DIR).string();
    if (relative.find("node_modules") != std::string::npos) continue;
    if (!entry.is_regular_file() || !IsSource(entry.path())) continue;
    std::ifstream in(entry.path());
    std::string line;
    std::smatch match;
    while (std::getline(in, line)) {
      if (std::regex_search(line, match, include_re)) {
        includes.push_back({relative, match[1]});
      }
    }
  }
  return includes;
}

std::string ModuleOf(const std::string& include) {
  const size_t slash = include.find('/');
  if (slash == std::string::npos) return "";
  const std::string first = include.substr(0, slash);
  for (const auto& [module, allowed] : Layers()) {
    if (module == first) return module;
  }
  return "";
}

TEST(LayersTest, NoModuleIncludesAModuleAboveIt) {
  std::vector<std::string> violations;
  for (const auto& [module, allowed] : Layers()) {
    for (const Include& include : IncludesOf(module)) {
      const std::string target = ModuleOf(include.target);
      if (target.empty() || target == module) continue;
      if (allowed.count(target) == 0) {
        violations.push_back(include.file + " includes " + include.target);
      }
    }
  }
  EXPECT_TRUE(violations.empty())
      << "includes against the layering:\n  "
      << [&] {
           std::string all;
           for (const std::string& v : violations) all += v + "\n  ";
           return all;
         }();
}

TEST(LayersTest, TheLayeringHasNoCycles) {
  // Allowed edges only point to modules listed earlier.
  std::vector<std::string> seen;
  for (const auto& [module, allowed] : Layers()) {
    for (const std::string& below : allowed) {
      EXPECT_NE(std::find(seen.begin(), seen.end(), below), seen.end())
          << module << " may include " << below << ", listed above it";
    }
    seen.push_back(module);
  }
}

TEST(LayersTest, PostgresClientStaysInsideProjectionsInternal) {
  std::vector<std::string> violations;
  for (const auto& [module, allowed] : Layers()) {
    for (const Include& include : IncludesOf(module)) {
      const bool pqxx = include.target.rfind("pqxx/", 0) == 0 ||
                        include.target == "libpq-fe.h";
      const bool header = include.file.size() > 2 &&
                          include.file.substr(include.file.size() - 2) == ".h";
      if (pqxx && header &&
          include.file.rfind("projections/internal/", 0) != 0) {
        violations.push_back(include.file);
      }
    }
  }
  EXPECT_TRUE(violations.empty())
      << "headers outside projections/internal/ that include pqxx: "
      << ::testing::PrintToString(violations);
}

// The files of api/ that make up the gRPC library (vigil::api, see
// api/CMakeLists.txt); every other file of api/ is the gRPC-free core.
const std::set<std::string>& GrpcApiFiles() {
  static const auto* files = new std::set<std::string>{
      "api/append_session.h",      "api/append_session.cc",
      "api/event_proto.h",         "api/event_proto.cc",
      "api/event_store_service.h", "api/event_store_service.cc",
      "api/grpc_calls.h",          "api/grpc_calls.cc",
      "api/grpc_status.h",         "api/grpc_status.cc",
      "api/subscription.h",        "api/subscription.cc",
  };
  return *files;
}

bool IsGrpcHeader(const std::string& include) {
  return include.rfind("grpcpp/", 0) == 0 || include.rfind("grpc/", 0) == 0 ||
         include.rfind("google/protobuf/", 0) == 0 ||
         include.rfind("vigil/v1/", 0) == 0 ||
         GrpcApiFiles().count(include) != 0;
}

// Files that must build without gRPC: the core of api/, projections/
// (webhooks included), and the gateway's routes onto the typed core with
// the HTTP messages they answer with. Not otlp_route: OTLP/HTTP bodies are
// protobuf messages (otlp/), which it parses into an arena.
bool MustBeGrpcFree(const std::string& file) {
  if (file.rfind("api/", 0) == 0) return GrpcApiFiles().count(file) == 0;
  if (file.rfind("projections/", 0) == 0) return true;
  static const std::regex routes_re(
      R"(^gateway/internal/((?!otlp_)[a-z_]*_routes?|event_reads|http_message)\.(h|cc)$)");
  return std::regex_match(file, routes_re);
}

TEST(LayersTest, TheCoreAndItsUsersIncludeNoGrpc) {
  std::vector<std::string> violations;
  size_t checked = 0;
  for (const std::string module : {"api", "projections", "gateway"}) {
    for (const Include& include : IncludesOf(module)) {
      if (!MustBeGrpcFree(include.file)) continue;
      ++checked;
      if (IsGrpcHeader(include.target)) {
        violations.push_back(include.file + " includes " + include.target);
      }
    }
  }
  EXPECT_GT(checked, 100u);  // the rule saw the files it is about
  EXPECT_TRUE(violations.empty())
      << "gRPC in files that link only vigil::api_core:\n  "
      << ::testing::PrintToString(violations);
}

// The list above names files that exist and do include gRPC, so it cannot
// silently exempt a core file.
TEST(LayersTest, TheGrpcFilesOfApiAreTheOnesListed) {
  std::set<std::string> including;
  for (const Include& include : IncludesOf("api")) {
    if (IsGrpcHeader(include.target)) including.insert(include.file);
  }
  EXPECT_EQ(including, GrpcApiFiles());
}

// A control: the check sees a real include (so a broken regex or a wrong
// source directory cannot make the tests above pass vacuously).
TEST(LayersTest, SeesTheIncludesItChecks) {
  bool found = false;
  for (const Include& include : IncludesOf("api")) {
    if (include.target.rfind("eventlog/", 0) == 0) found = true;
  }
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace vigil
