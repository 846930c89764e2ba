#include "core/memory_budget.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <fmt/format.h>

#include "core/error.h"

namespace bnlab {

int64_t memory_budget_bytes() {
    const long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGESIZE);
    int64_t usable = pages > 0 && page_size > 0 ? int64_t{pages} * page_size : int64_t{1} << 32;
    for (int resource : {RLIMIT_AS, RLIMIT_DATA}) {
        rlimit limit{};
        if (getrlimit(resource, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY)
            usable = std::min<int64_t>(usable, static_cast<int64_t>(std::min<rlim_t>(limit.rlim_cur, INT64_MAX)));
    }
    return usable / 2;
}

int64_t checked_product(std::initializer_list<int64_t> factors, const std::string& what) {
    int64_t product = 1;
    std::string text;
    bool overflow = false, has_zero = false;
    for (int64_t f : factors) {
        if (f < 0) throw Error(what + ": negative size " + std::to_string(f));
        text += (text.empty() ? "" : " x ") + std::to_string(f);
        has_zero = has_zero || f == 0;
        overflow = overflow || __builtin_mul_overflow(product, f, &product);
    }
    if (has_zero) return 0;  // an empty array, however large its other sizes
    if (overflow) throw Error(what + ": " + text + " overflows 64 bits");
    return product;
}

void check_memory_budget(int64_t bytes, const std::string& what, int64_t budget) {
    if (bytes > budget)
        throw Error(what + ": needs " + human_bytes(bytes) + ", more than the memory budget of " + human_bytes(budget));
}

std::string human_bytes(int64_t bytes) {
    const double b = static_cast<double>(bytes);
    if (bytes >= int64_t{1} << 30) return fmt::format("{:.1f} GiB", b / double(int64_t{1} << 30));
    if (bytes >= int64_t{1} << 20) return fmt::format("{:.1f} MiB", b / double(int64_t{1} << 20));
    return fmt::format("{} bytes", bytes);
}

}  // namespace bnlab
