// One check shared by optimizers, schedules and clipping: an option outside its valid range
// is an Error that names who rejected it, the option, the rule and the value given,
// e.g. "SGD: momentum must be >= 0, got -0.5". NaN fails every rule.
#pragma once

#include <fmt/format.h>

#include "core/error.h"

namespace bnlab {

inline void check_option(bool ok, const char* who, const char* option, const char* rule, double value) {
    if (!ok) throw Error(fmt::format("{}: {} must be {}, got {}", who, option, rule, value));
}

}  // namespace bnlab
