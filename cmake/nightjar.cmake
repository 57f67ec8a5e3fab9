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

# nj_check_tier(TARGET FORBID REGEX) fails the configuration when a library whose name matches
# REGEX reaches TARGET, directly or through the libraries it links: the edge's operator tool
# carries no inner code and the inner's no edge code (DESIGN.md, "Deployables and trust"). The
# walk runs once every directory has defined its targets.
function(nj_check_tier target)
  cmake_parse_arguments(A "" "FORBID" "" ${ARGN})
  cmake_language(EVAL CODE
    "cmake_language(DEFER DIRECTORY [[${CMAKE_SOURCE_DIR}]] CALL nj_check_tier_now [[${target}]] [[${A_FORBID}]])")
endfunction()

function(nj_check_tier_now target forbid)
  set(seen "")
  set(todo ${target})
  while(todo)
    list(POP_FRONT todo t)
    if(t IN_LIST seen OR NOT TARGET ${t})
      continue()
    endif()
    list(APPEND seen ${t})
    get_target_property(imported ${t} IMPORTED)
    if(imported)
      continue()  # a system library (libsodium, yaml-cpp, ...)
    endif()
    get_target_property(deps ${t} LINK_LIBRARIES)
    if(NOT deps)
      continue()
    endif()
    foreach(d ${deps})
      string(REGEX REPLACE "^\\$<LINK_ONLY:(.*)>$" "\\1" d "${d}")
      if(d MATCHES "${forbid}")
        message(FATAL_ERROR "${target} must not link ${d} (reached through ${t})")
      endif()
      list(APPEND todo ${d})
    endforeach()
  endwhile()
endfunction()

# nj_known_library_leaks(TEST...): under NJ_SANITIZE, the tests that drive a library with a known
# leak of its own (tests/asan/lsan.supp says which and why) get its suppressions. The slow
# unwinder is needed for them to match (the library's frames have no frame pointers), and it is
# costly, so only these tests get it.
function(nj_known_library_leaks)
  if(NJ_SANITIZE)
    foreach(t ${ARGN})
      set_property(TEST ${t} APPEND PROPERTY ENVIRONMENT
        "ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:fast_unwind_on_malloc=0"
        "LSAN_OPTIONS=suppressions=${CMAKE_SOURCE_DIR}/tests/asan/lsan.supp")
    endforeach()
  endif()
endfunction()
