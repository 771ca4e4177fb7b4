# Helper functions shared by the component CMakeLists.

# tessera_test(NAME SOURCES a_test.cc ... LIBS lib ... [LABELS l ...] [SERIAL])
# Builds a GoogleTest binary and registers each of its tests with ctest.
function(tessera_test name)
  if(NOT TESSERA_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(T "SERIAL" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} tessera_testing
                        GTest::gtest GTest::gmock GTest::gtest_main)
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY
                        ${CMAKE_BINARY_DIR}/tests)
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  # SERIAL: timing-sensitive suites run alone so other tests cannot skew them.
  set(props TIMEOUT ${T_TIMEOUT})
  if(T_LABELS)
    list(APPEND props LABELS "${T_LABELS}")
  endif()
  if(T_SERIAL)
    list(APPEND props RUN_SERIAL TRUE)
  endif()
  gtest_discover_tests(${name} DISCOVERY_MODE PRE_TEST
    WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}
    PROPERTIES ${props})
endfunction()

# tessera_benchmark(NAME SOURCES ... LIBS ...): Google Benchmark binary, only
# when TESSERA_BUILD_BENCHMARKS is on. Never registered with ctest.
function(tessera_benchmark name)
  if(NOT TESSERA_BUILD_BENCHMARKS)
    return()
  endif()
  cmake_parse_arguments(B "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${B_SOURCES})
  target_link_libraries(${name} PRIVATE ${B_LIBS} benchmark::benchmark
                        benchmark::benchmark_main)
endfunction()

# tessera_component(LIB_NAME DEPS dep ... [TEST_DEPS dep ...])
# Builds the component library LIB_NAME from every *.cc in the calling folder
# except *_test.cc, *_benchmark.cc, *_fuzzer.cc and main.cc; every *_test.cc
# goes into one test binary LIB_NAME_test, every *_benchmark.cc into one
# benchmark binary LIB_NAME_benchmark. New files need no CMake edits.
function(tessera_component lib)
  cmake_parse_arguments(C "" "" "DEPS;TEST_DEPS" ${ARGN})
  file(GLOB all_sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cc)
  set(lib_sources)
  set(test_sources)
  set(bench_sources)
  foreach(src ${all_sources})
    get_filename_component(base ${src} NAME)
    if(base MATCHES "_test\\.cc$")
      list(APPEND test_sources ${src})
    elseif(base MATCHES "_benchmark\\.cc$")
      list(APPEND bench_sources ${src})
    elseif(base MATCHES "_fuzzer\\.cc$" OR base STREQUAL "main.cc")
    else()
      list(APPEND lib_sources ${src})
    endif()
  endforeach()
  if(lib_sources)
    add_library(${lib} ${lib_sources})
    target_include_directories(${lib} PUBLIC ${CMAKE_SOURCE_DIR})
    target_link_libraries(${lib} PUBLIC ${C_DEPS})
  else()
    # A component whose code arrives later: headers only for now.
    add_library(${lib} INTERFACE)
    target_include_directories(${lib} INTERFACE ${CMAKE_SOURCE_DIR})
    target_link_libraries(${lib} INTERFACE ${C_DEPS})
  endif()
  if(test_sources)
    tessera_test(${lib}_test SOURCES ${test_sources}
                 LIBS ${lib} ${C_TEST_DEPS})
  endif()
  if(bench_sources)
    tessera_benchmark(${lib}_benchmark SOURCES ${bench_sources}
                      LIBS ${lib} ${C_TEST_DEPS})
  endif()
endfunction()
