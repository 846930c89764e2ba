// Thread count for everything bnlab computes: OpenBLAS's sgemm and bnlab's own OpenMP loops.
// Results depend only on the seed and the thread count: every parallel loop splits its
// work into fixed, disjoint pieces, and reductions across threads happen in a fixed order.
#pragma once

namespace bnlab {

// n >= 1. Sets OpenBLAS's and OpenMP's thread counts together.
void set_num_threads(int n);
int num_threads();

}  // namespace bnlab
