// Model specs: a network written as one string of layers joined by '-', e.g.
//   conv32-norm-relu-pool2-conv64-norm-relu-pool2-fc128-norm-relu-fc10
//   conv16-norm-relu-basic16-basic32s2-basic64s2-gap-fc
//
// Layers (N, K, S, P, G are integers; sizes of images and features follow the input):
//   conv<N>[k<K>][s<S>][p<P>]  3x3 (k) convolution to N channels, stride S (1), padding P
//                              (K/2: "same" for odd K at stride 1)
//   fc<N>                      linear layer to N features; a plain `fc` has one output per
//                              class. An image input is flattened first.
//   norm                       the norm of the norm setting (none: nothing; bn, ln, gn, noisy-bn)
//   bn | ln | gn[<G>] | noisybn  that norm whatever the setting: BatchNorm (2d after a conv,
//                              1d after fc), LayerNorm (GroupNorm(1, C) on images), GroupNorm
//                              with G groups (gn: the gn_groups setting), BatchNorm + noise
//   act | relu | sigmoid | tanh  activation (act: the activation setting, default relu)
//   pool<K> | maxpool<K>[s<S>][p<P>] | avgpool<K>[s<S>][p<P>]  K x K pooling, stride S (K)
//   gap                        global average pool: (C,H,W) -> (C)
//   flatten                    (C,H,W) -> (C*H*W)
//   dropout[<P>]               dropout with probability P (no number: the dropout setting;
//                              nothing when it is 0)
//   res(<layers>)              residual block: y = layers(x) + shortcut(x), the shortcut being
//                              the identity, or option A (subsample, zero channels) when the
//                              layers change the shape (layers/residual.h)
//   basic<N>[s<S>]             ResNet basic block: res(conv<N>s<S>-norm-act-conv<N>-norm)-act
// A conv or fc followed directly by a norm has no bias (the norm's mean would cancel it). With
// the norm placed after the activation (norm_after_activation), each `norm-<activation>` pair
// is written `<activation>-norm`; explicit norms (bn, ...) stay where they are.
//
// parse_spec checks the grammar only; models/zoo.h builds a spec for an input (shapes, classes).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace bnlab {

struct SpecLayer {
    std::string kind;   // conv fc norm bn ln gn noisybn act relu sigmoid tanh maxpool avgpool gap flatten dropout res basic
    int64_t size = 0;   // conv, basic: channels; fc: features (0: one per class); gn: groups (0: gn_groups)
    int kernel = 3;     // conv, pools
    int stride = 1;     // conv, basic, pools (pools: 0 = kernel)
    int padding = -1;   // conv: -1 = kernel/2; pools: 0
    float p = -1.0f;    // dropout: -1 = the dropout setting
    std::vector<SpecLayer> body;  // res
    size_t position = 0;          // 1-based column of the layer in the spec, for error messages
};

// The layers of `spec`. Throws FieldError("model", "spec position 14: unknown layer 'cnv64'
// (known: conv<N>, fc<N>, ...)") at the first mistake.
std::vector<SpecLayer> parse_spec(const std::string& spec);
// The spec text of `layers`, every option written only where it differs from its default:
// parse_spec(format_spec(layers)) gives the same layers.
std::string format_spec(const std::vector<SpecLayer>& layers);
std::string format_layer(const SpecLayer& layer);
// The layer names the grammar knows, as written in errors and help: conv<N>, fc<N>, norm, ...
const std::vector<std::string>& spec_layer_names();

}  // namespace bnlab
