# nightjar-inner, the mailbox server daemon.
add_executable(nightjar-inner ${CMAKE_CURRENT_SOURCE_DIR}/main.cpp)
target_compile_definitions(nightjar-inner PRIVATE NJ_VERSION="${PROJECT_VERSION}")
target_link_libraries(nightjar-inner PRIVATE nj_inner_server nj_daemon)
