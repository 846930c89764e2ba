// Learning-rate schedules: a map from a step counter t = 0, 1, 2, ... to a learning rate.
// t counts whatever the caller steps the schedule by (optimizer steps or epochs):
//
//   CosineAnnealing schedule(0.1, total_steps);
//   optimizer.set_lr(schedule.lr(optimizer.steps()));  // before each optimizer.step()
//
// Each value equals what the PyTorch scheduler named next to it puts in the optimizer after
// t calls to scheduler.step() (closed forms; PyTorch's recursive updates agree to ~1e-16).
// Constructors check their options and throw Error naming the bad one.
#pragma once

#include <cmath>
#include <cstdint>
#include <memory>
#include <numbers>

namespace bnlab {

class Schedule {
public:
    virtual ~Schedule() = default;
    // The learning rate for step t; an Error if t < 0.
    double lr(int64_t t) const;

private:
    virtual double lr_at(int64_t t) const = 0;  // t >= 0
};

// lr(t) = lr. Training without a schedule.
class ConstantSchedule : public Schedule {
public:
    explicit ConstantSchedule(double lr);

private:
    double lr_;
    double lr_at(int64_t) const override { return lr_; }
};

// StepLR: lr(t) = base_lr * gamma^floor(t / step_size).
class StepDecay : public Schedule {
public:
    StepDecay(double base_lr, int64_t step_size, double gamma = 0.1);

private:
    double lr_at(int64_t t) const override {
        return base_lr_ * std::pow(gamma_, static_cast<double>(t / step_size_));
    }
    double base_lr_;
    int64_t step_size_;
    double gamma_;
};

// CosineAnnealingLR: lr(t) = eta_min + (base_lr - eta_min) * (1 + cos(pi * t / period)) / 2.
// It reaches eta_min at t = period and, as in PyTorch, rises again after it: set period to
// the length of the run.
class CosineAnnealing : public Schedule {
public:
    CosineAnnealing(double base_lr, int64_t period, double eta_min = 0.0);

private:
    double lr_at(int64_t t) const override {
        const double angle = std::numbers::pi * static_cast<double>(t) / static_cast<double>(period_);
        return eta_min_ + (base_lr_ - eta_min_) * (1 + std::cos(angle)) / 2;
    }
    double base_lr_;
    int64_t period_;
    double eta_min_;
};

// Linear warm-up into another schedule (PyTorch: SequentialLR of LinearLR(start_factor,
// total_iters=warmup_steps) and `after`, milestone warmup_steps):
//   t <  W: lr(t) = after.lr(0) * (start_factor + (1 - start_factor) * t / W)
//   t >= W: lr(t) = after.lr(t - W)
class LinearWarmup : public Schedule {
public:
    LinearWarmup(double start_factor, int64_t warmup_steps, std::unique_ptr<Schedule> after);

private:
    double lr_at(int64_t t) const override {
        if (t >= warmup_steps_) return after_->lr(t - warmup_steps_);
        const double progress = static_cast<double>(t) / static_cast<double>(warmup_steps_);
        return after_->lr(0) * (start_factor_ + (1 - start_factor_) * progress);
    }
    double start_factor_;
    int64_t warmup_steps_;
    std::unique_ptr<Schedule> after_;
};

}  // namespace bnlab
