# Helpers shared by every CMakeLists.txt in the tree.

# nj_module(NAME SOURCES ... DEPS ...) -> static library nj_NAME, include root is the repo.
function(nj_module name)
  cmake_parse_arguments(A "" "" "SOURCES;DEPS" ${ARGN})
  add_library(nj_${name} STATIC ${A_SOURCES})
  target_include_directories(nj_${name} PUBLIC ${CMAKE_SOURCE_DIR})
  target_link_libraries(nj_${name} PUBLIC ${A_DEPS})
endfunction()

# nj_unit_test(NAME SOURCES ... DEPS ...) -> Boost.Test executable unit_NAME, registered with ctest.
function(nj_unit_test name)
  cmake_parse_arguments(A "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(unit_${name} ${A_SOURCES})
  set_target_properties(unit_${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  target_compile_definitions(unit_${name} PRIVATE BOOST_TEST_DYN_LINK)
  target_link_libraries(unit_${name} PRIVATE ${A_DEPS} Boost::unit_test_framework)
  add_test(NAME unit.${name} COMMAND unit_${name})
  set_tests_properties(unit.${name} PROPERTIES LABELS unit TIMEOUT 300
                       ENVIRONMENT "NJ_SOURCE_DIR=${CMAKE_SOURCE_DIR};NJ_BUILD_DIR=${CMAKE_BINARY_DIR}")
endfunction()

# nj_fuzz_target(NAME SOURCES ... DEPS ...) -> libFuzzer executable fuzz_NAME (only with NJ_FUZZ).
# ctest runs it for NJ_FUZZ_SECONDS over its seed corpus in tests/fuzz/corpus/NAME.
# A longer run: build-asan/fuzz/fuzz_NAME -max_total_time=600 tests/fuzz/corpus/NAME
function(nj_fuzz_target name)
  if(NOT NJ_FUZZ)
    return()
  endif()
  cmake_parse_arguments(A "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(fuzz_${name} ${A_SOURCES})
  set_target_properties(fuzz_${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz)
  target_link_libraries(fuzz_${name} PRIVATE ${A_DEPS})
  target_link_options(fuzz_${name} PRIVATE -fsanitize=fuzzer)
  set(corpus ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/${name})
  set(work ${CMAKE_BINARY_DIR}/fuzz/corpus-${name})
  add_test(NAME fuzz.${name}
           COMMAND ${CMAKE_COMMAND} -E env
                   sh -c "mkdir -p '${work}' && exec '$<TARGET_FILE:fuzz_${name}>' -max_total_time=${NJ_FUZZ_SECONDS} -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 '${work}' '${corpus}'")
  set_tests_properties(fuzz.${name} PROPERTIES LABELS fuzz TIMEOUT 600)
endfunction()
