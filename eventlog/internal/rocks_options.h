// The one place where Vigil's Options become rocksdb::Options.

#ifndef VIGIL_EVENTLOG_INTERNAL_ROCKS_OPTIONS_H_
#define VIGIL_EVENTLOG_INTERNAL_ROCKS_OPTIONS_H_

#include <rocksdb/options.h>

#include "eventlog/options.h"

namespace vigil::eventlog::internal {

rocksdb::Options ToRocksOptions(const Options& options);

}  // namespace vigil::eventlog::internal

#endif  // VIGIL_EVENTLOG_INTERNAL_ROCKS_OPTIONS_H_
