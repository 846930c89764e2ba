// The tape: reverse-mode autodiff as a list of what the forward pass did.
//
//   Tape tape;                          // this thread records onto `tape` until it goes out of scope
//   Tensor loss = cross_entropy(model.forward(x), labels);
//   tape.backward(loss);                // .grad of every parameter += d loss / d parameter
//
// While a tape is active, every op whose inputs require a gradient appends one Entry:
// its inputs, its output and a closure that, given d loss/d output, adds d loss/d input
// into each input's .grad. backward() walks the entries newest-first, then releases them,
// and with them the activations the closures saved and the outputs' gradients (except those
// of outputs marked with Tensor::retain_grad()). With no active tape nothing is
// recorded: that is inference mode, and it costs nothing extra.
#pragma once

#include <functional>
#include <initializer_list>
#include <vector>

#include "core/tensor.h"

namespace bnlab {

class Tape {
public:
    // Receives d loss / d output (same shape as the output). Adds into inputs' grads.
    using BackwardFn = std::function<void(const Tensor& grad_output)>;

    Tape();   // becomes this thread's active tape
    ~Tape();  // the previously active tape (or none) becomes active again
    Tape(const Tape&) = delete;
    Tape& operator=(const Tape&) = delete;

    // The tape ops record onto, or nullptr (inference).
    static Tape* active();

    // Called by ops. Marks `output` as requiring grad and a non-leaf.
    void record(const char* op, std::initializer_list<Tensor> inputs, Tensor& output, BackwardFn backward);

    // Seeds d loss/d loss = 1 (loss must have one element) and runs every entry in reverse.
    void backward(const Tensor& loss);
    // Same, seeding d out/d out = grad_output (same shape as out): a vector-Jacobian product.
    void backward(const Tensor& out, const Tensor& grad_output);

    size_t size() const { return entries_.size(); }
    bool released() const { return released_; }
    // Names of the recorded ops, oldest first (for printing and tests).
    std::vector<const char*> op_names() const;
    // What each entry recorded, oldest first, for inspection (core/tape_graph.h draws it):
    // the op, its inputs (handles to the same tensors; an absent bias is an undefined tensor)
    // and its output. Tensor::same() tells which input is an earlier entry's output. Empty
    // once backward() has consumed the tape.
    struct EntryInfo {
        const char* op;
        std::vector<Tensor> inputs;
        Tensor output;
    };
    std::vector<EntryInfo> entries() const;

private:
    struct Entry {
        const char* op;
        std::vector<Tensor> inputs;
        Tensor output;
        BackwardFn backward;
    };
    std::vector<Entry> entries_;
    Tape* previous_;
    bool released_ = false;
};

// Pauses recording in a scope, e.g. an evaluation pass in the middle of training.
class NoTape {
public:
    NoTape();
    ~NoTape();
    NoTape(const NoTape&) = delete;
    NoTape& operator=(const NoTape&) = delete;

private:
    Tape* saved_;
};

// backward on the active tape; a TapeError if there is none.
void backward(const Tensor& loss);

// --- For op implementations -------------------------------------------------------------

// The active tape if it exists and at least one input requires grad, else nullptr.
// Undefined tensors (an absent bias) are ignored.
Tape* recording_tape(std::initializer_list<const Tensor*> inputs);

// x's gradient buffer, created zero-filled on first use. Backward closures add into it.
float* grad_buffer(const Tensor& x);

// For a backward that sets every element of x's gradient: the buffer, and whether it already
// holds a gradient to add to. When it does not, the buffer is new and uninitialized, and the
// backward writes (=) instead of adding (+=), which saves a zero-filling pass over memory.
struct GradTarget {
    float* data;
    bool accumulate;
};
GradTarget grad_target(const Tensor& x);

// dst[i] = value(i), or dst[i] += value(i) when accumulating, for i in [0, n).
template <class F>
void store_grad(float* dst, bool accumulate, int64_t n, F&& value) {
    if (accumulate)
        for (int64_t i = 0; i < n; ++i) dst[i] += value(i);
    else
        for (int64_t i = 0; i < n; ++i) dst[i] = value(i);
}

}  // namespace bnlab
