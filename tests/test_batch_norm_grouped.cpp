// Ghost-batch and synchronized BatchNorm (core/ops/batch_norm_grouped.cpp, layers/norm.h):
//   ghost_batch_norm with groups of g == batch_norm on each group alone (forward, backward),
//     running statistics == the mean of the groups' own updates; gradient-checked;
//   sync_batch_norm over R ranks x B/R == batch_norm over B (forward, backward, running
//     statistics), the ranks being threads here (tests/thread_collective.h) and MPI
//     processes in tests/mpi/.
#include <catch2/catch.hpp>

#include <vector>

#include "core/ops.h"
#include "core/random.h"
#include "core/tape.h"
#include "layers/norm.h"
#include "tests/gradcheck.h"
#include "tests/thread_collective.h"

using namespace bnlab;
using bnlab::testing::gradcheck;
using bnlab::testing::GradCheckOptions;
using bnlab::testing::param;
using bnlab::testing::require_ok;
using bnlab::testing::run_ranks;

namespace {

// Samples [first, first + count) of x (N, ...), copied.
Tensor rows(const Tensor& x, int64_t first, int64_t count) {
    Shape shape = x.shape();
    const int64_t per = x.numel() / x.dim(0);
    std::vector<int64_t> dims;
    for (int i = 0; i < shape.size(); ++i) dims.push_back(i == 0 ? count : shape[i]);
    const float* begin = x.data() + first * per;
    return Tensor::from_vector(Shape(dims), std::span<const float>(begin, static_cast<size_t>(count * per)));
}

// What one batch_norm call in training produces: y, dx, dgamma, dbeta for upstream gradient dy,
// and the running statistics after the update.
struct BnRun {
    std::vector<float> y, dx, dgamma, dbeta, running_mean, running_var;
};

using BnOp = std::function<Tensor(const Tensor& x, Tensor& rm, Tensor& rv, const Tensor& w, const Tensor& b)>;

BnRun run_bn(const BnOp& op, const Tensor& x_values, const Tensor& dy, const Tensor& w_values, const Tensor& b_values,
             const Tensor& running_mean, const Tensor& running_var) {
    Tensor x = x_values.clone().set_requires_grad();
    Tensor w = w_values.clone().set_requires_grad(), b = b_values.clone().set_requires_grad();
    Tensor rm = running_mean.clone(), rv = running_var.clone();
    Tape tape;
    Tensor y = op(x, rm, rv, w, b);
    tape.backward(y, dy);
    return {y.to_vector(), x.grad().to_vector(), w.grad().to_vector(), b.grad().to_vector(), rm.to_vector(),
            rv.to_vector()};
}

void check_close(const std::vector<float>& actual, const std::vector<float>& expected, float tol = 2e-5f) {
    REQUIRE(actual.size() == expected.size());
    for (size_t i = 0; i < actual.size(); ++i) {
        INFO("index " << i);
        CHECK(actual[i] == Approx(expected[i]).margin(tol).epsilon(tol));
    }
}

void append(std::vector<float>& to, const std::vector<float>& more) { to.insert(to.end(), more.begin(), more.end()); }

struct Inputs {
    Tensor x, dy, w, b, running_mean, running_var;
};

Inputs make_inputs(const Shape& shape, uint64_t seed) {
    Generator gen(seed);
    const int64_t C = shape[1];
    // A mean far from zero: the sums must not lose the variance to cancellation.
    return {Tensor::randn(shape, gen, 3.0f, 2.0f), Tensor::randn(shape, gen),
            Tensor::uniform({C}, gen, 0.5f, 1.5f), Tensor::uniform({C}, gen, -0.5f, 0.5f),
            Tensor::uniform({C}, gen, -0.5f, 0.5f), Tensor::uniform({C}, gen, 0.5f, 2.0f)};
}

}  // namespace

TEST_CASE("ghost_batch_norm equals batch_norm on each ghost batch alone", "[norm][ghost]") {
    for (const auto& [shape, ghost] : std::vector<std::pair<Shape, int64_t>>{
             {Shape{8, 3, 2, 2}, 4}, {Shape{8, 3, 2, 2}, 3}, {Shape{6, 5}, 2}, {Shape{5, 2, 3}, 8}}) {
        INFO("shape " << shape.str() << " ghost " << ghost);
        const Inputs in = make_inputs(shape, 7);
        const BnRun ghosted = run_bn(
            [&](const Tensor& x, Tensor& rm, Tensor& rv, const Tensor& w, const Tensor& b) {
                return ghost_batch_norm(x, rm, rv, w, b, ghost, 0.1, 1e-5);
            },
            in.x, in.dy, in.w, in.b, in.running_mean, in.running_var);

        // The same, group by group with batch_norm; gamma/beta gradients add up over groups,
        // running statistics average over the groups' own updates.
        const int64_t N = shape[0], C = shape[1], groups = (N + ghost - 1) / ghost;
        BnRun expected;
        std::vector<float> dgamma(C), dbeta(C), rm(C), rv(C);
        for (int64_t first = 0; first < N; first += ghost) {
            const int64_t n = std::min(ghost, N - first);
            const BnRun part = run_bn(
                [](const Tensor& x, Tensor& m, Tensor& v, const Tensor& w, const Tensor& b) {
                    return batch_norm(x, m, v, w, b, true, 0.1, 1e-5);
                },
                rows(in.x, first, n), rows(in.dy, first, n), in.w, in.b, in.running_mean, in.running_var);
            append(expected.y, part.y);
            append(expected.dx, part.dx);
            for (int64_t c = 0; c < C; ++c) {
                dgamma[c] += part.dgamma[c];
                dbeta[c] += part.dbeta[c];
                rm[c] += part.running_mean[c] / static_cast<float>(groups);
                rv[c] += part.running_var[c] / static_cast<float>(groups);
            }
        }
        check_close(ghosted.y, expected.y);
        check_close(ghosted.dx, expected.dx);
        check_close(ghosted.dgamma, dgamma);
        check_close(ghosted.dbeta, dbeta);
        check_close(ghosted.running_mean, rm);
        check_close(ghosted.running_var, rv);
    }
}

TEST_CASE("ghost_batch_norm with one ghost batch is batch_norm", "[norm][ghost]") {
    const Inputs in = make_inputs({6, 4, 3, 3}, 8);
    const auto op = [](int64_t ghost) -> BnOp {
        return [ghost](const Tensor& x, Tensor& rm, Tensor& rv, const Tensor& w, const Tensor& b) {
            return ghost > 0 ? ghost_batch_norm(x, rm, rv, w, b, ghost) : batch_norm(x, rm, rv, w, b, true);
        };
    };
    const BnRun a = run_bn(op(6), in.x, in.dy, in.w, in.b, in.running_mean, in.running_var);
    const BnRun b = run_bn(op(0), in.x, in.dy, in.w, in.b, in.running_mean, in.running_var);
    check_close(a.y, b.y);
    check_close(a.dx, b.dx);
    check_close(a.running_var, b.running_var);
}

TEST_CASE("gradcheck: ghost_batch_norm", "[gradcheck][norm][ghost]") {
    Generator gen(21);
    const GradCheckOptions opt{5e-4, 3e-2, 3e-3};
    for (const Shape& s : {Shape{6, 3}, Shape{5, 2, 3}, Shape{4, 2, 2, 2}}) {
        INFO("shape " << s.str());
        const int64_t C = s[1];
        Tensor x = param(s, gen, -2.0f, 2.0f), w = param({C}, gen, 0.5f, 1.5f), b = param({C}, gen);
        require_ok(gradcheck([](const auto& in) { return ghost_batch_norm(in[0], Tensor(), Tensor(), in[1], in[2], 2); },
                             {x, w, b}, opt));
        require_ok(gradcheck([](const auto& in) { return ghost_batch_norm(in[0], Tensor(), Tensor(), Tensor(), Tensor(), 3); },
                             {x}, opt));
    }
}

TEST_CASE("ghost_batch_norm rejects a ghost batch with one value per channel", "[norm][ghost]") {
    Tensor x = Tensor::ones({5, 3});
    CHECK_THROWS_WITH(ghost_batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), 2),
                      Catch::Contains("more than 1 value per channel") && Catch::Contains("ghost batches of 2"));
    CHECK_THROWS_WITH(ghost_batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), 0), Catch::Contains(">= 1"));
    BatchNorm1d layer(3, BatchNormOptions{.ghost_batch_size = 2});
    CHECK_THROWS_WITH(layer(x), Catch::Contains("ghost batches of 2"));
    CHECK(layer.num_batches_tracked == 0);  // a rejected batch leaves no trace
}

TEST_CASE("BatchNorm2d with ghost_batch_size: ghost statistics in training, running ones in eval", "[norm][ghost]") {
    const Inputs in = make_inputs({8, 3, 2, 2}, 9);
    BatchNorm2d ghosted(3, BatchNormOptions{.ghost_batch_size = 4});
    CHECK(ghosted.describe() == "BatchNorm2d(3, ghost_batch_size=4)");
    Tensor rm = Tensor::zeros({3}), rv = Tensor::ones({3});
    check_close(ghosted(in.x).to_vector(), ghost_batch_norm(in.x, rm, rv, Tensor::ones({3}), Tensor::zeros({3}), 4).to_vector());
    check_close(ghosted.running_mean.to_vector(), rm.to_vector());
    check_close(ghosted.running_var.to_vector(), rv.to_vector());
    CHECK(ghosted.num_batches_tracked == 1);
    ghosted.eval();
    check_close(ghosted(in.x).to_vector(), batch_norm(in.x, rm, rv, Tensor::ones({3}), Tensor::zeros({3}), false).to_vector());
    // Ghost batches and synchronized statistics exclude each other.
    run_ranks(1, [&](Collective& group) {
        CHECK_THROWS_WITH(ghosted.set_sync(&group), Catch::Contains("exclude each other"));
    });
    CHECK_THROWS_WITH(BatchNorm2d(3, BatchNormOptions{.ghost_batch_size = -1}), Catch::Contains("ghost_batch_size"));
}

TEST_CASE("sync_batch_norm over R ranks x B/R equals batch_norm over B", "[norm][sync]") {
    for (const auto& [shape, ranks] :
         std::vector<std::pair<Shape, int>>{{Shape{8, 3, 4, 4}, 2}, {Shape{6, 5}, 3}, {Shape{4, 2, 3}, 2}}) {
        INFO("shape " << shape.str() << " ranks " << ranks);
        const Inputs in = make_inputs(shape, 11);
        const BnRun single = run_bn(
            [](const Tensor& x, Tensor& rm, Tensor& rv, const Tensor& w, const Tensor& b) {
                return batch_norm(x, rm, rv, w, b, true, 0.1, 1e-5);
            },
            in.x, in.dy, in.w, in.b, in.running_mean, in.running_var);

        const int64_t per_rank = shape[0] / ranks;
        std::vector<BnRun> parts(static_cast<size_t>(ranks));
        run_ranks(ranks, [&](Collective& group) {
            const int64_t first = group.rank() * per_rank;
            parts[static_cast<size_t>(group.rank())] = run_bn(
                [&](const Tensor& x, Tensor& rm, Tensor& rv, const Tensor& w, const Tensor& b) {
                    return sync_batch_norm(x, rm, rv, w, b, group, 0.1, 1e-5);
                },
                rows(in.x, first, per_rank), rows(in.dy, first, per_rank), in.w, in.b, in.running_mean,
                in.running_var);
        });
        BnRun joined;
        std::vector<float> dgamma(shape[1]), dbeta(shape[1]);
        for (const BnRun& part : parts) {
            append(joined.y, part.y);
            append(joined.dx, part.dx);
            for (size_t c = 0; c < dgamma.size(); ++c) {
                dgamma[c] += part.dgamma[c];  // each rank's own sums; the gradient allreduce adds them
                dbeta[c] += part.dbeta[c];
            }
            // Every rank holds the same running statistics: the global batch's.
            check_close(part.running_mean, single.running_mean);
            check_close(part.running_var, single.running_var);
        }
        check_close(joined.y, single.y);
        check_close(joined.dx, single.dx);
        check_close(dgamma, single.dgamma);
        check_close(dbeta, single.dbeta);
    }
}

TEST_CASE("BatchNorm with set_sync synchronizes in training only", "[norm][sync]") {
    const Inputs in = make_inputs({4, 2, 3, 3}, 12);
    const Tensor single = batch_norm(in.x, Tensor(), Tensor(), Tensor(), Tensor(), true);
    std::vector<std::vector<float>> train_out(2), eval_out(2);
    std::vector<std::string> described(2);
    run_ranks(2, [&](Collective& group) {
        BatchNorm2d layer(2, BatchNormOptions{.affine = false});
        layer.set_sync(&group);
        described[group.rank()] = layer.describe();
        const Tensor x = rows(in.x, 2 * group.rank(), 2);
        train_out[group.rank()] = layer(x).to_vector();
        layer.eval();
        eval_out[group.rank()] = layer(x).to_vector();  // running statistics, no communication
    });
    std::vector<float> joined = train_out[0];
    append(joined, train_out[1]);
    check_close(joined, single.to_vector());
    CHECK(described[0] == "BatchNorm2d(2, affine=False, sync=True)");
    CHECK(eval_out[0] != train_out[0]);
}
