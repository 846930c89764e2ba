#include "train/trainer.h"

#include <fmt/format.h>

#include <array>
#include <chrono>
#include <thread>

#include "core/error.h"
#include "core/memory_pool.h"
#include "core/ops.h"
#include "core/parallel.h"
#include "core/profiler.h"
#include "core/tape.h"
#include "models/param_groups.h"
#include "optim/adam.h"
#include "optim/clip_grad.h"
#include "optim/sgd.h"

namespace bnlab {

namespace {

std::unique_ptr<Optimizer> make_optimizer(const TrainConfig& c, std::vector<Tensor> params) {
    if (c.optimizer == "sgd")
        return std::make_unique<SGD>(std::move(params), c.lr,
                                     SGDOptions{.momentum = c.momentum, .nesterov = c.nesterov, .weight_decay = c.weight_decay});
    AdamOptions options{.weight_decay = c.weight_decay};
    if (c.optimizer == "adam") return std::make_unique<Adam>(std::move(params), c.lr, options);
    if (c.optimizer == "adamw") return std::make_unique<AdamW>(std::move(params), c.lr, options);
    throw FieldError("optimizer", unknown_choice("optimizer", c.optimizer, optimizer_names()));
}

std::unique_ptr<Schedule> make_schedule(const TrainConfig& c, int64_t total_steps) {
    std::unique_ptr<Schedule> s;
    if (c.schedule == "constant") s = std::make_unique<ConstantSchedule>(c.lr);
    else if (c.schedule == "cosine") s = std::make_unique<CosineAnnealing>(c.lr, std::max<int64_t>(total_steps, 1));
    else if (c.schedule == "step")  // x0.1 at 1/3 and 2/3
        s = std::make_unique<StepDecay>(c.lr, std::max<int64_t>(total_steps / 3, 1), 0.1);
    else throw FieldError("schedule", unknown_choice("schedule", c.schedule, schedule_names()));
    if (c.warmup_steps > 0) s = std::make_unique<LinearWarmup>(1.0 / static_cast<double>(c.warmup_steps + 1),
                                                              c.warmup_steps, std::move(s));
    return s;
}

}  // namespace

std::vector<double> grad_norms(Module& model) {
    std::vector<double> out;
    for (const auto& [name, p] : model.named_parameters()) {
        double sq = 0;
        if (p.grad().defined())
            for (float g : p.grad().values()) sq += static_cast<double>(g) * g;
        out.push_back(std::sqrt(sq));
    }
    return out;
}

StepResult train_step(Module& model, Optimizer& optimizer, const Batch& batch, double clip_norm,
                      DataParallel* parallel, std::vector<int32_t>* predicted) {
    {
        const ProfileScope profile("optimizer");
        optimizer.zero_grad();
    }
    Tape tape;
    Tensor logits = model.forward(batch.images);
    Tensor loss = cross_entropy(logits, batch.labels);
    std::vector<int32_t> argmax = argmax_rows(logits);
    StepResult result{loss.item(), static_cast<int64_t>(batch.labels.size()), 0};
    for (size_t i = 0; i < argmax.size(); ++i) result.correct += argmax[i] == batch.labels[i];
    if (predicted) *predicted = std::move(argmax);
    float loss_scale = 1.0f;
    if (parallel) {
        // [n, n * loss, correct] summed over the ranks: the global batch's numbers, so every rank
        // sees the same loss, and a non-finite loss stops every rank at the same step.
        std::array<double, 3> sums{static_cast<double>(result.samples), static_cast<double>(result.loss) *
                                   static_cast<double>(result.samples), static_cast<double>(result.correct)};
        parallel->group().allreduce_sum(sums);
        loss_scale = static_cast<float>(static_cast<double>(result.samples) / sums[0]);  // this rank's share n / N
        result = {static_cast<float>(sums[1] / sums[0]), static_cast<int64_t>(sums[0]), static_cast<int64_t>(sums[2])};
    }
    if (!std::isfinite(result.loss)) return result;
    // d(share * local mean loss): summed over the ranks, the gradient of the global mean loss.
    if (parallel) tape.backward(loss, Tensor::scalar(loss_scale));
    else tape.backward(loss);
    if (parallel) parallel->reduce_gradients();
    const ProfileScope profile("optimizer");
    if (clip_norm > 0) clip_grad_norm(model.parameters(), clip_norm);
    optimizer.step();
    return result;
}

float train_step(Module& model, Optimizer& optimizer, const Batch& batch, double clip_norm,
                 std::vector<int32_t>* predicted) {
    return train_step(model, optimizer, batch, clip_norm, nullptr, predicted).loss;
}

Trainer::Trainer(TrainConfig config, const Dataset& train, const Dataset& test, Collective* group)
    : config_(std::move(config)), train_(train), test_(test) {
    config_.validate();
    const int ranks = group ? group->size() : 1;
    if (config_.ranks != ranks)
        throw FieldError("ranks", fmt::format("the run is configured for {} rank(s) but {} process(es) run it{}",
                                              config_.ranks, ranks,
                                              ranks == 1 ? " (launch it with mpirun -np N)" : ""));
    set_num_threads(config_.threads > 0 ? config_.threads : default_threads());
    input_ = InputSpec{train.channels, train.height, train.width, static_cast<int64_t>(train.class_names.size())};
    model_ = make_model(config_.model, input_, config_.seed);
    if (group) {
        parallel_ = std::make_unique<DataParallel>(*model_, *group, parse_bn_sync(config_.bn_sync));
        parallel_->broadcast_state();  // same seed, same weights already; this makes sure of it
    }
    optimizer_ = make_optimizer(config_, model_->parameters());
    if (config_.unnormalized_lr > 0) {
        std::vector<double> factors;
        for (bool normalized : normalized_parameters(*model_))
            factors.push_back(normalized ? 1.0 : config_.unnormalized_lr / config_.lr);
        optimizer_->set_lr_factors(std::move(factors));
    }
    // drop_last: a last batch of 1 would make BatchNorm1d fail, and a tiny last batch gives
    // noisy batch statistics; every step sees a full batch.
    loader_ = std::make_unique<DataLoader>(train, LoaderOptions{.batch_size = config_.batch_size,
                                                                .drop_last = true,
                                                                .limit = config_.train_limit,
                                                                .augment = config_.augment,
                                                                .seed = config_.seed,
                                                                .shard = group ? group->rank() : 0,
                                                                .shards = ranks});
    steps_per_epoch_ = loader_->batches_per_epoch();
    if (steps_per_epoch_ == 0)
        throw FieldError("batch_size", fmt::format("{} is larger than the {} training samples", config_.batch_size, loader_->size()));
    total_steps_ = config_.steps;
    if (config_.steps == 0 && __builtin_mul_overflow(config_.epochs, steps_per_epoch_, &total_steps_))
        throw FieldError("epochs", fmt::format("{} epochs of {} steps is more steps than a 64-bit count holds",
                                               config_.epochs, steps_per_epoch_));
    eval_every_ = config_.eval_every > 0 ? config_.eval_every : steps_per_epoch_;
    schedule_ = make_schedule(config_, total_steps_);
}

Trainer::~Trainer() = default;

std::vector<std::string> Trainer::grad_norm_names() const {
    std::vector<std::string> out;
    for (const auto& [name, p] : model_->named_parameters()) out.push_back(name);
    return out;
}

SavedModel Trainer::saved_model() const {
    return SavedModel{model_, config_, input_, train_.class_names, train_.mean, train_.std};
}

MetricsRow Trainer::make_row(double wall_seconds) {
    MetricsRow row;
    row.step = step_;
    row.epoch = static_cast<double>(step_) / static_cast<double>(steps_per_epoch_);
    row.lr = optimizer_->lr();
    if (window_samples_ > 0) {
        row.train_loss = window_loss_ / static_cast<double>(window_steps_);
        row.train_accuracy = static_cast<double>(window_correct_) / static_cast<double>(window_samples_);
    }
    row.grad_norms = grad_norms(*model_);
    const Profiler::Pause not_a_training_step;
    // Normalized as the training images are (they differ for folder:PATH data sets).
    const EvalResult test = evaluate(*model_, test_, config_.test_limit, 500, train_.mean, train_.std);
    row.test_loss = test.loss;
    row.test_accuracy = test.accuracy;
    row.wall_seconds = wall_seconds;
    window_loss_ = 0;
    window_correct_ = window_samples_ = window_steps_ = 0;
    return row;
}

bool Trainer::stop_requested(TrainObserver& observer) {
    // Rank 0's observer decides for every rank, so that all stop at the same step.
    std::array<double, 1> stop{observer.stop_requested() ? 1.0 : 0.0};
    if (parallel_) parallel_->group().broadcast(std::as_writable_bytes(std::span<double>(stop)), 0);
    return stop[0] != 0.0;
}

bool Trainer::checkpoint_due() const {
    if (checkpoint_.path.empty()) return false;
    return (checkpoint_.every_steps > 0 && step_ % checkpoint_.every_steps == 0) ||
           (checkpoint_.every_epoch && step_ % steps_per_epoch_ == 0);
}

RunResult Trainer::run(TrainObserver& observer, int64_t stop_at) {
    const int64_t end = stop_at > 0 ? std::min(stop_at, total_steps_) : total_steps_;
    const int64_t first_step = step_;  // > 0 when resumed: the speed counts this run's steps only
    const auto start = std::chrono::steady_clock::now();
    const auto elapsed = [&] {
        return wall_offset_ + std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    };
    RunResult result;
    // Buffers freed during the run are reused by the next step: no fresh allocations, and
    // no page faults, once the first step has run.
    MemoryPool pool;
    Batch batch;
    model_->train();
    while (step_ < end) {
        const int64_t epoch = step_ / steps_per_epoch_;
        if (epoch != loader_epoch_) {
            loader_->start_epoch(epoch);
            loader_epoch_ = epoch;
            // Resuming mid-epoch: batches are a pure function of (seed, epoch, index), so
            // skipping the ones already trained on lands exactly where the run stopped.
            for (int64_t b = 0; b < step_ % steps_per_epoch_; ++b) loader_->next(batch);
        }
        {
            const ProfileScope profile("data");
            if (!loader_->next(batch)) throw Error("trainer: the data loader ran out of batches mid-epoch");
        }
        optimizer_->set_lr(schedule_->lr(step_));
        const StepResult r = train_step(*model_, *optimizer_, batch, config_.clip_grad_norm, parallel_.get());
        if (!std::isfinite(r.loss)) {
            result.diverged = true;
            result.diverged_at = step_ + 1;
            break;
        }
        ++step_;
        if (Profiler* profiler = Profiler::active()) profiler->end_step();

        // Over the global batch (all ranks' shards) under data parallelism.
        window_loss_ += r.loss;
        window_correct_ += r.correct;
        window_samples_ += r.samples;
        ++window_steps_;
        const double wall = elapsed();
        observer.on_step({step_, total_steps_, epoch, r.loss, static_cast<double>(r.correct) / static_cast<double>(r.samples),
                          optimizer_->lr(),
                          static_cast<double>((step_ - first_step) * r.samples) / std::max(wall - wall_offset_, 1e-9), wall});
        bool stop = false;
        if (step_ % eval_every_ == 0 || step_ == total_steps_) {
            result.last = make_row(elapsed());
            observer.on_row(result.last);
            stop = stop_requested(observer);
        }
        wall_seconds_ = elapsed();
        if (checkpoint_due()) save_checkpoint(checkpoint_.path);
        if (stop) break;
    }
    result.steps = step_;
    result.wall_seconds = elapsed();
    if (result.diverged) {
        // The final row records the divergence: NaN losses at the step that failed.
        MetricsRow row;
        row.step = result.diverged_at;
        row.epoch = static_cast<double>(row.step) / static_cast<double>(steps_per_epoch_);
        row.lr = optimizer_->lr();
        row.wall_seconds = result.wall_seconds;
        row.grad_norms.assign(model_->named_parameters().size(), NAN);
        result.last = row;
        observer.on_row(row);
    }
    wall_offset_ = wall_seconds_ = result.wall_seconds;
    return result;
}

}  // namespace bnlab
