// Builds the modules of a resolved spec (models/zoo.h's resolved_spec: no norm, act or basic
// layers left) for an input shape, tracking the shape layer by layer so that every size
// mistake is an error naming the layer, not a failure in the middle of a forward pass.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "layers/module.h"
#include "models/spec.h"
#include "models/zoo.h"

namespace bnlab {

// The shape of one sample between layers: an image (C,H,W) or features (C).
struct SampleShape {
    int64_t channels = 0, height = 0, width = 0;
    bool image = false;
    std::string str() const;
};

class SpecBuilder {
public:
    // `model_name` says where an error is: a named model's name, or "" for a spec the user wrote
    // (errors then give the position in it).
    // A plain `fc` gets `classes` outputs. With `float_count`, nothing with weights is built:
    // the floats of every parameter and norm buffer are added to *float_count instead (to bound
    // a model a file declares before allocating it).
    SpecBuilder(const ModelConfig& config, uint64_t seed, int64_t classes, std::string model_name,
                int64_t* float_count = nullptr);
    // Appends the modules of `layers` to `into`; `shape` goes from the input's to the output's.
    void add(const std::vector<SpecLayer>& layers, Sequential& into, SampleShape& shape);

private:
    void add_layer(const SpecLayer& layer, bool feeds_norm, Sequential& into, SampleShape& shape);
    void add_norm(const SpecLayer& layer, Sequential& into, const SampleShape& shape);
    void check_groups(const SpecLayer& layer, int64_t channels) const;
    void add_residual(const SpecLayer& layer, Sequential& into, SampleShape& shape);
    void add_pool(const SpecLayer& layer, Sequential& into, SampleShape& shape);
    [[noreturn]] void fail(const SpecLayer& layer, const std::string& problem) const;
    void require_image(const SpecLayer& layer, const SampleShape& shape) const;
    Generator next_generator() { return Generator(seed_).fork(transforms_++); }
    // In counting mode: adds `floats` and returns true (the caller builds nothing).
    bool counted(std::initializer_list<int64_t> factors, int64_t extra = 0);

    const ModelConfig& config_;
    uint64_t seed_;
    int64_t classes_;
    std::string model_name_;
    uint64_t transforms_ = 0;  // convs and fcs built so far
    uint64_t dropouts_ = 0;
    int64_t* float_count_;
};

}  // namespace bnlab
