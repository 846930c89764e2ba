#include "experiments/claims/claims.h"

namespace bnlab::claims {

const std::vector<Claim>& all_claims() {
    static const std::vector<Claim> claims{
        convergence_claim(),
        learning_rate_claim(),
        init_scale_claim(),
        gradients_claim(),
        regularization_claim(),
        batch_size_claim(),
        inference_claim(),
        placement_claim(),
        covariate_shift_claim(),
    };
    return claims;
}

}  // namespace bnlab::claims
