#include "core/parallel.h"

#include <cblas.h>
#include <omp.h>

#include <string>

#include "core/error.h"

namespace bnlab {

void set_num_threads(int n) {
    if (n < 1) throw Error("set_num_threads: need at least 1 thread, got " + std::to_string(n));
    openblas_set_num_threads(n);
    omp_set_num_threads(n);
}

int num_threads() { return omp_get_max_threads(); }

}  // namespace bnlab
