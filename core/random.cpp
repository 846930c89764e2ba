#include "core/random.h"

#include <cmath>
#include <numbers>
#include <string>

#include "core/error.h"

namespace bnlab {

namespace {
constexpr uint64_t kMultiplier = 6364136223846793005ULL;

// splitmix64: spreads nearby seeds (0, 1, 2, ...) into unrelated 64-bit values.
uint64_t splitmix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}
}  // namespace

Generator::Generator(uint64_t seed, uint64_t stream) {
    state_.seed = seed;
    state_.increment = (splitmix64(stream) << 1u) | 1u;  // must be odd
    state_.state = 0;
    next_u32();
    state_.state += splitmix64(seed);
    next_u32();
}

uint32_t Generator::next_u32() {
    const uint64_t old = state_.state;
    state_.state = old * kMultiplier + state_.increment;
    const auto xorshifted = static_cast<uint32_t>(((old >> 18u) ^ old) >> 27u);
    const auto rot = static_cast<uint32_t>(old >> 59u);
    return (xorshifted >> rot) | (xorshifted << ((-rot) & 31u));
}

float Generator::uniform() { return static_cast<float>(next_u32() >> 8) * 0x1.0p-24f; }

float Generator::normal() {
    if (state_.has_spare_normal) {
        state_.has_spare_normal = false;
        return state_.spare_normal;
    }
    // u1 in (0, 1] so that log(u1) is finite.
    const double u1 = (static_cast<double>(next_u32()) + 1.0) * 0x1.0p-32;
    const double u2 = static_cast<double>(next_u32()) * 0x1.0p-32;
    const double radius = std::sqrt(-2.0 * std::log(u1));
    const double angle = 2.0 * std::numbers::pi * u2;
    state_.spare_normal = static_cast<float>(radius * std::sin(angle));
    state_.has_spare_normal = true;
    return static_cast<float>(radius * std::cos(angle));
}

uint64_t Generator::below(uint64_t n) {
    // Rejection on 64-bit products of a 32-bit draw: exact for n < 2^32, which covers
    // every data set index bnlab shuffles.
    if (n == 0 || n > 0xffffffffULL)
        throw Error("Generator::below: n must be in [1, 2^32), got " + std::to_string(n));
    const auto n32 = static_cast<uint32_t>(n);
    uint64_t product = static_cast<uint64_t>(next_u32()) * n32;
    auto low = static_cast<uint32_t>(product);
    if (low < n32) {
        const uint32_t threshold = static_cast<uint32_t>(-n32) % n32;
        while (low < threshold) {
            product = static_cast<uint64_t>(next_u32()) * n32;
            low = static_cast<uint32_t>(product);
        }
    }
    return product >> 32;
}

Generator Generator::fork(uint64_t stream) const {
    return Generator(splitmix64(state_.seed ^ splitmix64(stream + 1)), stream);
}

}  // namespace bnlab
