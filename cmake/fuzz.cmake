# VIGIL_FUZZ=ON builds the coverage-guided fuzz targets of tests/fuzz/
# (docs/reliability.md, "Fuzzing") with Debian's clang and libFuzzer
# (clang, libclang-rt-14-dev): every library they link is compiled with
# -fsanitize=fuzzer-no-link,address,undefined (coverage counters, ASan,
# UBSan), each target with -fsanitize=fuzzer, which adds libFuzzer's main.
# Use a build directory of its own (tools/fuzz uses build-fuzz); only the
# fuzz_* targets are meant to be built there.
option(VIGIL_FUZZ "Build the libFuzzer targets of tests/fuzz (clang only)" OFF)
if(VIGIL_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR
      "VIGIL_FUZZ needs clang (libFuzzer), not ${CMAKE_CXX_COMPILER_ID}: "
      "configure a fresh build directory with -DCMAKE_CXX_COMPILER=clang++ "
      "(tools/fuzz does)")
  endif()
  if(NOT VIGIL_SANITIZE STREQUAL "")
    message(FATAL_ERROR
      "VIGIL_FUZZ brings its own sanitizers: leave VIGIL_SANITIZE empty")
  endif()
  # UBSan findings abort, so libFuzzer reports them as crashes.
  set(vigil_fuzz_flags -fsanitize=address,undefined
    -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  add_compile_options(-fsanitize=fuzzer-no-link ${vigil_fuzz_flags})
  add_link_options(${vigil_fuzz_flags})
endif()

# vigil_fuzz_target(NAME [SOURCES ...] DEPS ...) makes fuzz_NAME from
# tests/fuzz/NAME_fuzz.cc. SOURCES are library files compiled into the
# target itself (the same functions the server calls) when their library
# would bring in far more than the target needs (the gateway's Beast
# sessions, the gRPC services); DEPS are the libraries it links.
function(vigil_fuzz_target name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(fuzz_${name} ${name}_fuzz.cc ${ARG_SOURCES})
  target_compile_options(fuzz_${name} PRIVATE ${VIGIL_WARNINGS})
  target_link_options(fuzz_${name} PRIVATE -fsanitize=fuzzer)
  target_link_libraries(fuzz_${name} PRIVATE ${ARG_DEPS})
  target_include_directories(fuzz_${name} PRIVATE ${PROJECT_SOURCE_DIR})
endfunction()
