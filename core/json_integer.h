// Integers read from JSON files a user can edit (config.json, summary.json, a run's records).
//
// nlohmann::json's get<int>() converts a JSON float with a C++ cast, which is undefined
// behaviour when the value does not fit ("threads": 6.6e134 made UBSan stop in `claims index`;
// found by fuzz/fuzz_json.cpp), and wraps a too-large integer silently. json_integer<T> takes a
// JSON integer, or a float with an integral value, only when it lies in T's range, and throws
// JsonIntegerError ("expected an integer in [min, max], got ...") otherwise; callers add the
// file and the field.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>

#include "core/error.h"

namespace bnlab {

struct JsonIntegerError : Error {
    using Error::Error;
};

template <class T>
T json_integer(const nlohmann::json& value) {
    static_assert(std::is_integral_v<T> && !std::is_same_v<T, bool>);
    constexpr auto lowest = std::numeric_limits<T>::min();
    constexpr auto highest = std::numeric_limits<T>::max();
    const auto fail = [&]() -> T {
        throw JsonIntegerError("expected an integer in [" + std::to_string(lowest) + ", " + std::to_string(highest) + "], got " +
                    value.dump());
    };
    if (value.is_number_unsigned()) {
        const uint64_t u = value.get<uint64_t>();
        return u <= static_cast<uint64_t>(highest) ? static_cast<T>(u) : fail();
    }
    if (value.is_number_integer()) {
        const int64_t i = value.get<int64_t>();
        if constexpr (std::is_unsigned_v<T>) return i >= 0 && static_cast<uint64_t>(i) <= highest ? static_cast<T>(i) : fail();
        else return i >= lowest && i <= highest ? static_cast<T>(i) : fail();
    }
    if (value.is_number_float()) {
        // Within range as a double: [lowest, highest + 1) (highest + 1 is a power of two, exact).
        const double d = value.get<double>();
        const double top = static_cast<double>(highest / 2 + 1) * 2.0;
        if (std::isfinite(d) && d == std::floor(d) && d >= static_cast<double>(lowest) && d < top)
            return static_cast<T>(d);
    }
    return fail();
}

}  // namespace bnlab
