# The libraries bnlab links, found the same way when bnlab is built and when an installed
# bnlab is used through find_package(bnlab).
find_package(PkgConfig REQUIRED)
# OpenBLAS built with OpenMP (Debian's libopenblas-openmp-dev), so that sgemm and bnlab's own
# OpenMP loops share one thread pool. With the pthread build, idle OpenMP threads spin while
# OpenBLAS's threads work and the two fight over the cores (measured: a mnist-cnn step 2x slower).
set(ENV{PKG_CONFIG_PATH} "/usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-openmp/pkgconfig:$ENV{PKG_CONFIG_PATH}")
pkg_check_modules(OPENBLAS REQUIRED IMPORTED_TARGET GLOBAL openblas)
find_package(OpenMP REQUIRED)
find_package(ZLIB REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_package(fmt REQUIRED)
# BLIS, OpenMP build (Debian's libblis-openmp-dev, 0.9): the avx512 kernels' sgemm (core/cpu.h).
# Its library also defines the BLAS and CBLAS names (cblas_sgemm, sgemm_): it is linked after
# OpenBLAS, so those names bind to OpenBLAS (tests/test_cpu.cpp checks where each one lands),
# and bnlab calls BLIS only through its bli_* names. Its blis.h declares CBLAS as well, so its
# include directory is not published: only core/ops/blis_gemm.cpp gets it (CMakeLists.txt).
find_library(BLIS_LIBRARY NAMES blis PATHS /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/blis-openmp NO_DEFAULT_PATH
             REQUIRED)
if(NOT TARGET BLIS::BLIS)
  add_library(BLIS::BLIS SHARED IMPORTED GLOBAL)
  set_target_properties(BLIS::BLIS PROPERTIES IMPORTED_LOCATION ${BLIS_LIBRARY})
endif()
# MPI (optional): data-parallel training (train/mpi_collective.h). A build without it trains on
# one process and, asked for a distributed run, says how to get it. find_package(bnlab) needs it
# exactly when the installed bnlab was built with it (BNLAB_BUILT_WITH_MPI, from bnlabConfig).
if(DEFINED BNLAB_BUILT_WITH_MPI)
  if(BNLAB_BUILT_WITH_MPI)
    find_package(MPI REQUIRED COMPONENTS CXX)
  endif()
elseif(BNLAB_MPI)
  find_package(MPI COMPONENTS CXX)
endif()
