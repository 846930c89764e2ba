// The memory budget: how large one allocation whose size a file declares may be.
//
// Every reader that allocates from sizes read out of a file (an IDX header, a safetensors
// shape, image dimensions, a model's metadata) first multiplies them with checked_product()
// (an overflow is an error, never a wrap-around) and then calls check_memory_budget() with
// the byte count, so a hostile or corrupt file gives an Error naming it instead of
// std::bad_alloc, an abort, or a machine driven into swap.
//
// The budget is half of the memory this process may use: the smaller of the machine's
// physical memory and the address-space / data-segment limits (setrlimit, `ulimit -v`).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>

namespace bnlab {

// Half of min(physical memory, RLIMIT_AS, RLIMIT_DATA), in bytes.
int64_t memory_budget_bytes();

// The product of non-negative `factors`; throws Error "WHAT: a x b x ... overflows 64 bits"
// when it does not fit in int64_t, or names the negative factor.
int64_t checked_product(std::initializer_list<int64_t> factors, const std::string& what);

// Throws Error "WHAT: needs N bytes (x GiB), more than the memory budget of B bytes" when
// bytes > budget. `what` names the file and the object (e.g. "train.gz: 60000 images").
void check_memory_budget(int64_t bytes, const std::string& what, int64_t budget = memory_budget_bytes());

// "1.5 GiB", "12.0 MiB", "512 bytes": byte counts in error messages.
std::string human_bytes(int64_t bytes);

}  // namespace bnlab
