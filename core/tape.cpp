#include "core/tape.h"

#include <algorithm>
#include <string>

#include "core/error.h"
#include "core/profiler.h"

namespace bnlab {

namespace {
// The one global bnlab has: which tape this thread records onto.
thread_local Tape* active_tape = nullptr;
}  // namespace

Tape::Tape() : previous_(active_tape) { active_tape = this; }

Tape::~Tape() {
    // Tapes nest like scopes; restore whatever was active before this one.
    if (active_tape == this) active_tape = previous_;
}

Tape* Tape::active() { return active_tape; }

void Tape::record(const char* op, std::initializer_list<Tensor> inputs, Tensor& output, BackwardFn backward) {
    if (released_)
        throw TapeError(std::string(op) + ": recording onto a tape that backward() already consumed; "
                        "create a new Tape for the next forward pass");
    output.impl()->requires_grad = true;
    output.impl()->is_leaf = false;
    entries_.push_back(Entry{op, std::vector<Tensor>(inputs), output, std::move(backward)});
}

void Tape::backward(const Tensor& loss) {
    if (!loss.defined()) throw TapeError("backward: the loss is an undefined tensor");
    if (loss.numel() != 1)
        throw TapeError("backward: the loss must have one element, got shape " + loss.shape().str() +
                        "; pass a grad_output of the same shape for a vector-Jacobian product");
    backward(loss, Tensor::ones(loss.shape()));
}

void Tape::backward(const Tensor& out, const Tensor& grad_output) {
    if (released_)
        throw TapeError("backward: this tape was already consumed by an earlier backward(); "
                        "run the forward pass again under a new Tape");
    if (!out.defined() || !out.requires_grad())
        throw TapeError("backward: the output does not require grad (was it computed with no active tape, "
                        "or from tensors that do not require grad?)");
    if (grad_output.shape() != out.shape())
        throw ShapeError("backward: grad_output " + grad_output.shape().str() + " does not match output " +
                         out.shape().str());
    {
        NoTape pause;  // backward closures compute with ops' kernels, never record
        float* seed = grad_buffer(out);
        const float* g = grad_output.data();
        const int64_t n = out.numel();
        for (int64_t i = 0; i < n; ++i) seed[i] += g[i];

        for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) {
            Tensor grad = it->output.grad();
            // An output nothing downstream used: no gradient flows through it.
            if (grad.defined()) {
                const ProfileScope profile(it->op, ProfileScope::kBackward);
                it->backward(grad);
            }
            // The entry is done: free its saved activations and the intermediate gradient now
            // (unless the user asked to keep it), so that peak memory falls as backward proceeds.
            if (!it->output.retains_grad()) it->output.zero_grad();
            it->backward = nullptr;
            it->inputs.clear();
            it->output = Tensor();
        }
    }
    entries_.clear();
    entries_.shrink_to_fit();
    released_ = true;
}

std::vector<const char*> Tape::op_names() const {
    std::vector<const char*> names;
    names.reserve(entries_.size());
    for (const Entry& e : entries_) names.push_back(e.op);
    return names;
}

std::vector<Tape::EntryInfo> Tape::entries() const {
    std::vector<EntryInfo> out;
    out.reserve(entries_.size());
    for (const Entry& e : entries_) out.push_back({e.op, e.inputs, e.output});
    return out;
}

NoTape::NoTape() : saved_(active_tape) { active_tape = nullptr; }
NoTape::~NoTape() { active_tape = saved_; }

void backward(const Tensor& loss) {
    Tape* tape = Tape::active();
    if (!tape) throw TapeError("backward: no active tape; create a Tape before the forward pass");
    tape->backward(loss);
}

Tape* recording_tape(std::initializer_list<const Tensor*> inputs) {
    if (!active_tape) return nullptr;
    const bool any = std::any_of(inputs.begin(), inputs.end(),
                                 [](const Tensor* t) { return t->defined() && t->requires_grad(); });
    return any ? active_tape : nullptr;
}

float* grad_buffer(const Tensor& x) {
    TensorImpl* impl = x.impl();
    if (!impl->grad.defined()) impl->grad = Tensor::zeros(impl->shape);
    return impl->grad.data();
}

GradTarget grad_target(const Tensor& x) {
    TensorImpl* impl = x.impl();
    if (impl->grad.defined()) return {impl->grad.data(), true};
    impl->grad = Tensor::empty(impl->shape);
    return {impl->grad.data(), false};
}

}  // namespace bnlab
