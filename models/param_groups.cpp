#include "models/param_groups.h"

#include <set>
#include <string>

#include "layers/affine.h"
#include "layers/norm.h"

namespace bnlab {

namespace {

bool is_transform(Module& m) { return dynamic_cast<Linear*>(&m) || dynamic_cast<Conv2d*>(&m); }
bool is_norm(Module& m) {
    return dynamic_cast<BatchNorm*>(&m) || dynamic_cast<LayerNorm*>(&m) || dynamic_cast<GroupNorm*>(&m);
}

}  // namespace

std::vector<bool> normalized_parameters(Module& model) {
    // The dotted names of the scale-invariant weights: "<transform>.weight" for every transform
    // directly followed by a norm in a Sequential (named_modules lists a Sequential's children
    // right after it, as "<sequential>.<i>.").
    std::set<std::string> invariant;
    for (const auto& [name, module] : model.named_modules()) {
        const auto* seq = dynamic_cast<Sequential*>(module);
        if (!seq) continue;
        // A descendant's name already ends in '.' ("3.body."); the root's is "".
        const std::string prefix = name.empty() || name.ends_with('.') ? name : name + ".";
        for (size_t i = 0; i + 1 < seq->size(); ++i)
            if (is_transform((*seq)[i]) && is_norm((*seq)[i + 1])) invariant.insert(prefix + std::to_string(i) + ".weight");
    }
    std::vector<bool> flags;
    for (const auto& [name, tensor] : model.named_parameters()) flags.push_back(invariant.contains(name));
    return flags;
}

}  // namespace bnlab
