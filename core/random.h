// Generator: a seeded random number generator with independent, reproducible streams.
//
// PCG32 (O'Neill 2014): a 64-bit linear congruential state, output permuted to 32 bits.
// The same (seed, stream) gives the same numbers on every machine and compiler, unlike
// std::normal_distribution, whose algorithm the C++ standard leaves to the library.
// There is no global generator: whoever needs randomness is handed a Generator.
#pragma once

#include <cstdint>

namespace bnlab {

class Generator {
public:
    explicit Generator(uint64_t seed = 0, uint64_t stream = 0);

    uint32_t next_u32();
    // Uniform in [0, 1), 24 random bits (every float in the grid is equally likely).
    float uniform();
    float uniform(float low, float high) { return low + (high - low) * uniform(); }
    // Standard normal through the Box-Muller transform (computed in double).
    float normal();
    float normal(float mean, float std) { return mean + std * normal(); }
    // Unbiased integer in [0, n) (Lemire's rejection method); n > 0.
    uint64_t below(uint64_t n);
    // An independent generator for sub-task `stream` (e.g. one per epoch or per layer),
    // derived from this generator's seed only, so it does not depend on how much of
    // this generator was consumed.
    Generator fork(uint64_t stream) const;

    // The full state, so a checkpoint can resume the exact sequence.
    struct State {
        uint64_t seed = 0, state = 0, increment = 0;
        bool has_spare_normal = false;
        float spare_normal = 0.0f;
        bool operator==(const State&) const = default;
    };
    State state() const { return state_; }
    void set_state(const State& s) { state_ = s; }

private:
    State state_;
};

}  // namespace bnlab
