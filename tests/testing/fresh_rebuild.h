// The read models a fresh rebuild of a whole log makes, as the rows
// read_model_dump.h lists: the reference for "the projected read models
// equal a fresh rebuild" checks. Runs the domain projections over the log
// in `data_dir` (opened for writing: no server may hold it) into the
// database at `url`, migrations first. Failures are test failures.

#ifndef VIGIL_TESTS_TESTING_FRESH_REBUILD_H_
#define VIGIL_TESTS_TESTING_FRESH_REBUILD_H_

#include <string>
#include <vector>

#include "eventlog/event_log.h"
#include "gtest/gtest.h"
#include "projections/internal/domain_projections.h"
#include "projections/migrations.h"
#include "projections/projection_runner.h"
#include "tests/testing/read_model_dump.h"

namespace vigil::testing {

inline std::vector<std::string> FreshRebuild(const std::string& data_dir,
                                             const std::string& url) {
  auto log = eventlog::EventLog::Open(eventlog::Options(), data_dir);
  EXPECT_TRUE(log.ok()) << log.status();
  if (!log.ok()) return {};
  EXPECT_TRUE(projections::ApplyMigrations(url).ok());
  for (auto& projection : projections::NewDomainProjections({})) {
    projections::RunnerOptions options;
    options.pg_url = url;
    projections::ProjectionRunner runner(projection.get(), log->get(),
                                         options);
    absl::Status status = runner.CatchUp((*log)->HeadPosition());
    EXPECT_TRUE(status.ok()) << status;
  }
  return DumpReadModels(url);
}

}  // namespace vigil::testing

#endif  // VIGIL_TESTS_TESTING_FRESH_REBUILD_H_
