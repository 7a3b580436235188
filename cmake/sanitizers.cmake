# VIGIL_SANITIZE instruments everything Vigil builds (our libraries, tests,
# tools, benchmarks and the generated protobuf code): `address` is
# AddressSanitizer + UndefinedBehaviorSanitizer, `thread` ThreadSanitizer;
# empty (the default) builds without. Debian's dependencies (RocksDB, gRPC,
# protobuf, Abseil, libpqxx) stay uninstrumented; tools/sanitizers/ holds the
# runtime options and suppressions, tools/test-sanitized uses them. GCC's
# runtimes (libasan8, libubsan1, libtsan2) come with build-essential.
set(VIGIL_SANITIZE "" CACHE STRING
  "Sanitizer build: empty, address (ASan+UBSan) or thread (TSan)")
set_property(CACHE VIGIL_SANITIZE PROPERTY STRINGS "" address thread)
if(VIGIL_SANITIZE STREQUAL "address")
  # UBSan findings abort like ASan's instead of printing and going on.
  set(vigil_sanitize_flags -fsanitize=address,undefined
    -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
elseif(VIGIL_SANITIZE STREQUAL "thread")
  set(vigil_sanitize_flags -fsanitize=thread -fno-omit-frame-pointer)
elseif(NOT VIGIL_SANITIZE STREQUAL "")
  message(FATAL_ERROR
    "VIGIL_SANITIZE must be empty, address or thread, not '${VIGIL_SANITIZE}'")
endif()
if(vigil_sanitize_flags)
  add_compile_options(${vigil_sanitize_flags})
  add_link_options(${vigil_sanitize_flags})
  # GCC 12's flow warnings misfire on instrumented libstdc++ code: <regex>
  # (-Wmaybe-uninitialized, tests/otlp/span_mapping_test.cc) and
  # std::string::assign (-Wrestrict, projections/webhooks/target.cc); the
  # normal build, which keeps both, is where they count.
  list(APPEND VIGIL_WARNINGS -Wno-maybe-uninitialized -Wno-restrict)
endif()

# vigil_sanitizer_executables(DIR) links what a sanitizer build adds to every
# executable under DIR; called once the tree is defined. ThreadSanitizer
# gets tools/sanitizers/tsan_absl_sync.cc, which annotates Debian's
# uninstrumented absl::Mutex, CondVar and Notification (see the file).
if(VIGIL_SANITIZE STREQUAL "thread")
  add_library(vigil_tsan_absl_sync OBJECT
    ${PROJECT_SOURCE_DIR}/tools/sanitizers/tsan_absl_sync.cc)
  # Hidden: the executable keeps its definitions to itself, so Vigil's calls
  # (and inline Abseil and gRPC header code compiled into it) are annotated
  # and gRPC's internal locking is left as it is (see tsan.supp).
  target_compile_options(vigil_tsan_absl_sync PRIVATE ${VIGIL_WARNINGS}
    -fvisibility=hidden)
  target_link_libraries(vigil_tsan_absl_sync PUBLIC absl::synchronization
    ${CMAKE_DL_LIBS})
endif()
function(vigil_sanitizer_executables dir)
  if(NOT VIGIL_SANITIZE STREQUAL "thread")
    return()
  endif()
  get_property(targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
  foreach(target ${targets})
    get_target_property(type ${target} TYPE)
    if(type STREQUAL "EXECUTABLE")
      target_link_libraries(${target} PRIVATE vigil_tsan_absl_sync)
    endif()
  endforeach()
  get_property(subdirs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
  foreach(subdir ${subdirs})
    vigil_sanitizer_executables(${subdir})
  endforeach()
endfunction()
