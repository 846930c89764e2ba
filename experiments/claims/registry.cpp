#include "experiments/claims/claims.h"

namespace bnlab::claims {

const std::vector<Claim>& all_claims() {
    static const std::vector<Claim> claims{convergence_claim(), inference_claim(), regularization_claim(),
                                           batch_size_claim()};
    return claims;
}

}  // namespace bnlab::claims
