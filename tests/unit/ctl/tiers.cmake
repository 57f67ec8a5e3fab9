# cmake -DSOURCE_DIR=... -P tiers.cmake: fails when a source of an operator tool includes,
# directly or through the headers it includes, a header of the tier it must not carry:
# edge/ctl (the edge's nightjarctl) nothing of inner/, inner/ctl nothing of edge/, common/ctl
# neither (DESIGN.md: the edge image holds no inner code).

cmake_minimum_required(VERSION 3.25)

# check_tier(DIR FORBID REGEX): DIR's sources and headers and all they include.
function(check_tier dir)
  cmake_parse_arguments(A "" "FORBID" "" ${ARGN})
  file(GLOB todo RELATIVE ${SOURCE_DIR} ${SOURCE_DIR}/${dir}/*.cpp ${SOURCE_DIR}/${dir}/*.h)
  if(NOT todo)
    message(FATAL_ERROR "no sources in ${dir}")
  endif()
  set(seen "")
  set(count 0)
  while(todo)
    list(POP_FRONT todo f)
    if(f IN_LIST seen)
      continue()
    endif()
    list(APPEND seen ${f})
    math(EXPR count "${count} + 1")
    file(STRINGS ${SOURCE_DIR}/${f} lines REGEX "^[ \t]*#[ \t]*include[ \t]*\"")
    foreach(line ${lines})
      string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*\"([^\"]+)\".*$" "\\1" inc "${line}")
      if(inc MATCHES "${A_FORBID}")
        message(FATAL_ERROR "${f} includes ${inc}: ${A_FORBID} is the other tier's")
      endif()
      if(EXISTS ${SOURCE_DIR}/${inc})
        list(APPEND todo ${inc})
      endif()
    endforeach()
  endwhile()
  message(STATUS "${dir}: ${count} files read, none includes ${A_FORBID}")
endfunction()

check_tier(edge/ctl FORBID "^inner/")
check_tier(inner/ctl FORBID "^edge/")
check_tier(common/ctl FORBID "^(edge|inner)/")
