# lamina_library(NAME SOURCES ... DEPS ...): one subsystem = one static library, linked PRIVATE to
# what it includes (STYLE.md), with src/ as the include root.
function(lamina_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PUBLIC_DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} PUBLIC ${ARG_PUBLIC_DEPS})
endfunction()

# lamina_test(NAME SOURCES ... DEPS ...): every unit test goes through here (one GoogleTest binary per
# subsystem, discovered by CTest).
function(lamina_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main)
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60)
endfunction()

# lamina_embed(OUT VAR FILE): turns FILE into a C++ source defining
# `extern const std::string_view VAR;` so the binary carries it (runtimes, no install step).
function(lamina_embed out var file)
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DVAR=${var} -DIN=${file} -DOUT=${out} -P ${PROJECT_SOURCE_DIR}/cmake/embed.cmake
    DEPENDS ${file} ${PROJECT_SOURCE_DIR}/cmake/embed.cmake
    VERBATIM)
endfunction()
