# nightjar-edge, the public MX daemon.
add_executable(nightjar-edge ${CMAKE_CURRENT_SOURCE_DIR}/main.cpp)
target_compile_definitions(nightjar-edge PRIVATE NJ_VERSION="${PROJECT_VERSION}")
target_link_libraries(nightjar-edge PRIVATE nj_edge_server nj_daemon)
