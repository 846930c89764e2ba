#include "optim/schedule.h"

#include <string>

#include "core/error.h"
#include "optim/check_option.h"

namespace bnlab {

namespace {

void check_lr(const char* who, double lr) { check_option(std::isfinite(lr) && lr >= 0, who, "lr", "finite and >= 0", lr); }

}  // namespace

double Schedule::lr(int64_t t) const {
    if (t < 0) throw Error("learning-rate schedule: step must be >= 0, got " + std::to_string(t));
    return lr_at(t);
}

ConstantSchedule::ConstantSchedule(double lr) : lr_(lr) { check_lr("ConstantSchedule", lr); }

StepDecay::StepDecay(double base_lr, int64_t step_size, double gamma)
    : base_lr_(base_lr), step_size_(step_size), gamma_(gamma) {
    check_lr("StepDecay", base_lr);
    check_option(step_size > 0, "StepDecay", "step_size", "> 0", static_cast<double>(step_size));
    check_option(gamma >= 0 && std::isfinite(gamma), "StepDecay", "gamma", "finite and >= 0", gamma);
}

CosineAnnealing::CosineAnnealing(double base_lr, int64_t period, double eta_min)
    : base_lr_(base_lr), period_(period), eta_min_(eta_min) {
    check_lr("CosineAnnealing", base_lr);
    check_option(period > 0, "CosineAnnealing", "period", "> 0", static_cast<double>(period));
    check_option(eta_min >= 0 && std::isfinite(eta_min), "CosineAnnealing", "eta_min", "finite and >= 0", eta_min);
}

LinearWarmup::LinearWarmup(double start_factor, int64_t warmup_steps, std::unique_ptr<Schedule> after)
    : start_factor_(start_factor), warmup_steps_(warmup_steps), after_(std::move(after)) {
    // PyTorch's LinearLR takes start_factor in (0, 1].
    check_option(start_factor > 0 && start_factor <= 1, "LinearWarmup", "start_factor", "in (0, 1]", start_factor);
    check_option(warmup_steps > 0, "LinearWarmup", "warmup_steps", "> 0", static_cast<double>(warmup_steps));
    if (!after_) throw Error("LinearWarmup: the schedule to hand over to is null");
}

}  // namespace bnlab
