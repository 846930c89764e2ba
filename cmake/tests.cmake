# The Catch2 tests, the README example, and the package tests: run with ctest.
enable_testing()
find_package(Catch2 2 REQUIRED)
include(Catch)
set(BNLAB_ROOT ${CMAKE_CURRENT_SOURCE_DIR})

# Catch2's main() and shared test helpers, compiled once.
add_library(test_support STATIC tests/catch_main.cpp tests/gradcheck.cpp)
target_include_directories(test_support PUBLIC ${BNLAB_ROOT})
target_link_libraries(test_support PUBLIC bnlab Catch2::Catch2)
file(GLOB BNLAB_TEST_SOURCES CONFIGURE_DEPENDS ${BNLAB_ROOT}/tests/test_*.cpp)
add_executable(bnlab_tests ${BNLAB_TEST_SOURCES})
target_link_libraries(bnlab_tests PRIVATE test_support)
target_compile_definitions(bnlab_tests PRIVATE BNLAB_SOURCE_DIR="${BNLAB_ROOT}"
                           BNLAB_BINARY="$<TARGET_FILE:bnlab_cli>")
add_dependencies(bnlab_tests bnlab_cli)
# One ctest entry per TEST_CASE.
# --warn NoTests: a filter that matches no test case fails (a name with a ";" is split in two by
# CMake, and each half used to match nothing and pass).
catch_discover_tests(bnlab_tests WORKING_DIRECTORY ${BNLAB_ROOT} EXTRA_ARGS --warn NoTests)

# The README's library example, extracted, compiled and run, so the README stays true.
file(READ ${BNLAB_ROOT}/README.md BNLAB_README)
string(REGEX MATCH "<!-- readme-example:begin -->\n```cpp\n(.*)```\n<!-- readme-example:end -->" _ "${BNLAB_README}")
if(NOT CMAKE_MATCH_1)
  message(FATAL_ERROR "README.md: no readme-example block")
endif()
file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/readme_example.cpp "${CMAKE_MATCH_1}")
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${BNLAB_ROOT}/README.md)
add_executable(readme_example ${CMAKE_CURRENT_BINARY_DIR}/readme_example.cpp)
target_link_libraries(readme_example PRIVATE bnlab)
add_test(NAME "README example trains an MLP with BatchNorm" COMMAND readme_example WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
set_tests_properties("README example trains an MLP with BatchNorm" PROPERTIES PASS_REGULAR_EXPRESSION "epoch 2: test accuracy 0\\.8")

# The package: install into a scratch prefix, build a tiny consumer with find_package(bnlab),
# run it and the installed `bnlab`; configure a project that add_subdirectory()s bnlab; and a
# wrong-way include (layers/ including train/) must fail to compile.
add_test(NAME "package: cmake --install, find_package(bnlab) consumer, add_subdirectory, arrows"
         COMMAND ${BNLAB_ROOT}/tests/package/check_package.sh ${CMAKE_COMMAND} ${CMAKE_CURRENT_BINARY_DIR} ${BNLAB_ROOT})

# The arrows: a file that links only bnlab::layers and includes train/ must not compile; the
# same file including layers/ and core/ must (so the first test fails for the right reason).
add_library(arrow_wrong_way OBJECT EXCLUDE_FROM_ALL tests/package/wrong_way.cpp)
target_link_libraries(arrow_wrong_way PRIVATE bnlab_layers)
add_library(arrow_right_way OBJECT EXCLUDE_FROM_ALL tests/package/right_way.cpp)
target_link_libraries(arrow_right_way PRIVATE bnlab_layers)
add_test(NAME "arrows: layers/ cannot include train/ (the build fails)"
         COMMAND ${CMAKE_COMMAND} --build ${CMAKE_CURRENT_BINARY_DIR} --target arrow_wrong_way)
set_tests_properties("arrows: layers/ cannot include train/ (the build fails)" PROPERTIES
                     PASS_REGULAR_EXPRESSION "train/trainer.h: No such file" RESOURCE_LOCK bnlab_build)
add_test(NAME "arrows: layers/ can include layers/ and core/"
         COMMAND ${CMAKE_COMMAND} --build ${CMAKE_CURRENT_BINARY_DIR} --target arrow_right_way)
set_tests_properties("arrows: layers/ can include layers/ and core/" PROPERTIES RESOURCE_LOCK bnlab_build)

# docs/walkthrough.md: the example is built with everything else; one test compares its output
# with the copy in the doc, another builds it with the doc's g++ line against an installed bnlab.
add_executable(walkthrough examples/walkthrough.cpp)
target_link_libraries(walkthrough PRIVATE bnlab)
add_test(NAME "docs/walkthrough.md shows what examples/walkthrough.cpp prints"
         COMMAND ${CMAKE_COMMAND} -DPROGRAM=$<TARGET_FILE:walkthrough> -DDOC=${BNLAB_ROOT}/docs/walkthrough.md
                 -P ${BNLAB_ROOT}/tests/docs/check_doc_output.cmake)
add_test(NAME "docs/walkthrough.md: its g++ line builds the example against an installed bnlab"
         COMMAND ${BNLAB_ROOT}/tests/docs/check_compile_outside_cmake.sh ${CMAKE_COMMAND} ${CMAKE_CURRENT_BINARY_DIR} ${BNLAB_ROOT})

# Data parallelism over real MPI processes (only where CMake found MPI): the checks of
# tests/data_parallel_checks.h and SyncBatchNorm, on 2 ranks. --oversubscribe: 2 ranks even on
# a 1-core machine; running as root (CI containers) needs Open MPI's explicit consent.
if(BNLAB_HAVE_MPI)
  add_executable(test_mpi_data_parallel tests/mpi/test_mpi_data_parallel.cpp)
  target_include_directories(test_mpi_data_parallel PRIVATE ${BNLAB_ROOT})
  target_link_libraries(test_mpi_data_parallel PRIVATE bnlab Catch2::Catch2)
  add_dependencies(bnlab_tests test_mpi_data_parallel)
  set(BNLAB_MPIRUN ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} 2 --oversubscribe --bind-to none)
  set(BNLAB_MPI_ENV OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1)
  add_test(NAME "mpi: 2 ranks: SyncBatchNorm and data-parallel training equal one process"
           COMMAND ${BNLAB_MPIRUN} $<TARGET_FILE:test_mpi_data_parallel>)
  set_tests_properties("mpi: 2 ranks: SyncBatchNorm and data-parallel training equal one process" PROPERTIES
                       ENVIRONMENT "${BNLAB_MPI_ENV}" TIMEOUT 120)
  # The command line: rank 0 reports the split and writes the run directory.
  add_test(NAME "mpi: mpirun -np 2 bnlab train --bn-sync all"
           COMMAND ${BNLAB_MPIRUN} $<TARGET_FILE:bnlab_cli> train --model small-cnn --norm bn --steps 2 --eval-every 2
                   --limit 256 --test-limit 64 --batch 32 --threads 1 --bn-sync all --force
                   --out ${CMAKE_CURRENT_BINARY_DIR}/mpi_train_run)
  set_tests_properties("mpi: mpirun -np 2 bnlab train --bn-sync all" PROPERTIES ENVIRONMENT "${BNLAB_MPI_ENV}" TIMEOUT 120
                       PASS_REGULAR_EXPRESSION "data parallel: 2 ranks x batch 16 = global batch 32, --bn-sync all.*wrote "
                       FIXTURES_SETUP mpi_train_run)
  # Run again without --force: rank 0 refuses the directory it wrote, and stops every rank.
  add_test(NAME "mpi: mpirun -np 2 bnlab train refuses to overwrite a previous run"
           COMMAND ${BNLAB_MPIRUN} $<TARGET_FILE:bnlab_cli> train --model small-cnn --norm bn --steps 2 --eval-every 2
                   --limit 256 --test-limit 64 --batch 32 --threads 1 --bn-sync all
                   --out ${CMAKE_CURRENT_BINARY_DIR}/mpi_train_run)
  set_tests_properties("mpi: mpirun -np 2 bnlab train refuses to overwrite a previous run" PROPERTIES
                       ENVIRONMENT "${BNLAB_MPI_ENV}" TIMEOUT 120 FIXTURES_REQUIRED mpi_train_run
                       PASS_REGULAR_EXPRESSION "already holds a previous run.*rank 0/2: failed: stopping every rank")
  # Claims under mpirun: the runs are spread over the ranks, the report is the one process's.
  foreach(claim learning-rate convergence)
    add_test(NAME "mpi: mpirun -np 2 bnlab claims run ${claim} writes the one-process report"
             COMMAND ${BNLAB_ROOT}/tests/mpi/claim_same_report.sh ${CMAKE_CURRENT_BINARY_DIR}/mpi_claim_${claim} ${claim}
                     $<TARGET_FILE:bnlab_cli> ${BNLAB_MPIRUN})
    set_tests_properties("mpi: mpirun -np 2 bnlab claims run ${claim} writes the one-process report" PROPERTIES
                         ENVIRONMENT "${BNLAB_MPI_ENV}" TIMEOUT 300
                         PASS_REGULAR_EXPRESSION "the same report from one process and from 2 ranks")
  endforeach()
endif()
