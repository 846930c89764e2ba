// A model's summary for one input sample: per layer its output shape, parameter count and
// forward FLOPs, then totals (`bnlab summary`, and the head of every train.log).
//
// FLOPs are those of one sample's inference forward pass, a multiply-add counted as 2:
//   Linear in->out              out * 2*in, + out for a bias
//   Conv2d C->F, k x k          F*Ho*Wo * 2*C*k*k, + F*Ho*Wo for a bias
//   BatchNorm                   2 per element (subtract the running mean, multiply by 1/std),
//                               + 2 with the affine (scale, shift)
//   LayerNorm, GroupNorm        the same, + 3 per element for the per-sample statistics (an add
//                               for the mean; a subtract and a multiply-add for the variance)
//   ReLU, Sigmoid, Tanh         1 per element
//   MaxPool2d, AvgPool2d        k*k per output element; global average pool: 1 per input element
//   Residual                    1 per output element for the sum (the option-A shortcut only moves values)
//   Flatten, Dropout, NoisyAffine  0 (views, or the identity at inference)
#pragma once

#include <string>
#include <vector>

#include "core/shape.h"
#include "layers/module.h"

namespace bnlab {

struct LayerSummary {
    std::string name;   // the layer's state_dict prefix, e.g. "4.body.0"
    std::string layer;  // its describe(), indented by its nesting
    Shape output;       // of one sample: (C,H,W) or (F)
    int64_t parameters = 0;
    int64_t flops = 0;
};

struct ModelSummary {
    Shape input, output;  // of one sample
    std::vector<LayerSummary> layers;
    int64_t parameters = 0, flops = 0;
};

// Runs one zero sample of `sample_shape` (e.g. {1, 28, 28}) through `model` in eval mode, no
// tape, and counts as above. The model's mode and state are left as they were.
ModelSummary summarize(Module& model, const Shape& sample_shape);
// A table, one line per layer, then a line of totals.
std::string format_summary(const ModelSummary& summary);

}  // namespace bnlab
