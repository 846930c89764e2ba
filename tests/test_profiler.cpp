// The op profiler: what it records (ops, phases, calls, steps, fresh buffers), nesting, pausing,
// and that it records nothing when off. No test here depends on how long anything takes.
#include <catch2/catch.hpp>

#include <cstring>

#include "core/memory_pool.h"
#include "core/ops.h"
#include "core/profiler.h"
#include "core/random.h"
#include "core/tape.h"
#include "data/loader.h"
#include "train/trainer.h"
#include "models/zoo.h"
#include "optim/sgd.h"

using namespace bnlab;

namespace {

const Profiler::OpTime* find_op(const Profiler& p, const char* op) {
    for (const Profiler::OpTime& t : p.ops())
        if (std::strcmp(t.op, op) == 0) return &t;
    return nullptr;
}

// conv2d -> relu -> sum, with backward: a forward and a backward entry for each.
void conv_relu_step(Generator& gen) {
    Tensor x = Tensor::randn({2, 3, 8, 8}, gen);
    Tensor w = Tensor::randn({4, 3, 3, 3}, gen);
    w.set_requires_grad();
    Tape tape;
    tape.backward(sum(relu(conv2d(x, w, Tensor(), 1, 1))));
}

}  // namespace

TEST_CASE("the profiler records each op's forward and backward under its tape name", "[profiler]") {
    Generator gen(1);
    Profiler profiler;
    REQUIRE(Profiler::active() == &profiler);
    conv_relu_step(gen);
    profiler.end_step();
    conv_relu_step(gen);
    profiler.end_step();

    CHECK(profiler.steps() == 2);
    for (const char* op : {"conv2d", "relu", "sum"}) {
        INFO(op);
        const Profiler::OpTime* t = find_op(profiler, op);
        REQUIRE(t != nullptr);
        CHECK(t->forward_calls == 2);
        CHECK(t->backward_calls == 2);
        CHECK(t->forward_seconds >= 0);
        CHECK(t->backward_seconds >= 0);
    }
    // Every second is counted once: the ops' times fit inside the steps' wall time.
    double timed = 0;
    for (const Profiler::OpTime& t : profiler.ops()) timed += t.forward_seconds + t.backward_seconds;
    CHECK(timed <= profiler.step_seconds());
    const std::string report = profiler.report();
    CHECK_THAT(report, Catch::Contains("conv2d") && Catch::Contains("over 2 steps"));

    profiler.reset();
    CHECK(profiler.steps() == 0);
    CHECK(find_op(profiler, "conv2d")->forward_calls == 0);
}

TEST_CASE("without an active profiler nothing is recorded, profilers nest like scopes", "[profiler]") {
    Generator gen(2);
    CHECK(Profiler::active() == nullptr);
    conv_relu_step(gen);  // no profiler: must simply work
    Profiler outer;
    {
        Profiler inner;
        CHECK(Profiler::active() == &inner);
        conv_relu_step(gen);
        CHECK(find_op(inner, "conv2d") != nullptr);
    }
    CHECK(Profiler::active() == &outer);
    CHECK(find_op(outer, "conv2d") == nullptr);  // the inner profiler took those calls
    {
        const Profiler::Pause pause;
        CHECK(Profiler::active() == nullptr);
        conv_relu_step(gen);
    }
    CHECK(Profiler::active() == &outer);
    CHECK(outer.ops().empty());
}

TEST_CASE("a scope inside another is subtracted from it", "[profiler]") {
    Generator gen(3);
    Profiler profiler;
    {
        const ProfileScope outer("outer");
        conv_relu_step(gen);  // all the work happens in ops inside "outer"
    }
    const Profiler::OpTime* outer = find_op(profiler, "outer");
    REQUIRE(outer != nullptr);
    CHECK(outer->forward_calls == 1);
    double inner = 0;
    for (const Profiler::OpTime& t : profiler.ops())
        if (std::strcmp(t.op, "outer") != 0) inner += t.forward_seconds + t.backward_seconds;
    CHECK(outer->forward_seconds < inner);  // only the scope's own bookkeeping is left
}

TEST_CASE("the profiler counts fresh MemoryPool buffers per step: none in the steady state", "[profiler][memory]") {
    Profiler profiler;
    Dataset data;
    data.name = "noise";
    data.channels = 1;
    data.height = data.width = 12;
    data.mean = {0.5f};
    data.std = {0.25f};
    data.class_names = {"a", "b", "c"};
    Generator gen(4);
    for (int i = 0; i < 64; ++i) {
        data.labels.push_back(static_cast<int32_t>(gen.below(3)));
        for (int p = 0; p < 144; ++p) data.pixels.push_back(static_cast<uint8_t>(gen.below(256)));
    }
    for (const std::string norm : {"bn", "gn"}) {
        INFO(norm);
        MemoryPool pool;  // a new pool per model: the first step must fill it
        auto model = make_model({.arch = "mnist-cnn", .norm = norm}, InputSpec{1, 12, 12, 3}, 0);
        SGD optimizer(model->parameters(), 0.01, {.momentum = 0.9});
        DataLoader loader(data, {.batch_size = 16, .drop_last = true, .seed = 1});
        loader.start_epoch(0);
        Batch batch;
        profiler.reset();
        for (int step = 0; step < 4; ++step) {
            REQUIRE(loader.next(batch));
            train_step(*model, optimizer, batch);
            profiler.end_step();
        }
        REQUIRE(profiler.fresh_per_step().size() == 4);
        CHECK(profiler.fresh_per_step()[0] > 0);  // the first step fills the pool
        CHECK(profiler.fresh_per_step()[2] == 0);
        CHECK(profiler.fresh_per_step()[3] == 0);
        CHECK(find_op(profiler, "optimizer") != nullptr);
    }
}
