// operator<< for Tensor: PyTorch's layout (nested brackets, one row of the last dimension per
// line, aligned columns), followed by the shape.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ostream>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace bnlab {

namespace {

constexpr int64_t kSummarizeAbove = 1000;  // more values than this: elide (PyTorch's threshold)
constexpr int64_t kEdgeItems = 3;          // entries kept at each end of an elided dimension
constexpr size_t kLineWidth = 80;

// The indices of dimension d to print: all, or the first and last kEdgeItems with -1 (the
// "..." marker) between them.
std::vector<int64_t> shown_indices(int64_t size, bool summarize) {
    std::vector<int64_t> idx;
    if (summarize && size > 2 * kEdgeItems) {
        for (int64_t i = 0; i < kEdgeItems; ++i) idx.push_back(i);
        idx.push_back(-1);
        for (int64_t i = size - kEdgeItems; i < size; ++i) idx.push_back(i);
    } else {
        for (int64_t i = 0; i < size; ++i) idx.push_back(i);
    }
    return idx;
}

// One format for every value: "%.4f", or "%.4e" when the values span too wide a range to
// read in fixed point; "%.0f." when every value is a whole number (as PyTorch prints 3.).
struct NumberFormat {
    enum Kind { whole, fixed, scientific } kind = fixed;
    size_t width = 0;  // every value is right-aligned to the widest

    std::string str(float v) const {
        if (std::isnan(v)) return "nan";
        if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
        char buf[64];
        if (kind == whole) std::snprintf(buf, sizeof buf, "%.0f.", static_cast<double>(v));
        else if (kind == fixed) std::snprintf(buf, sizeof buf, "%.4f", static_cast<double>(v));
        else std::snprintf(buf, sizeof buf, "%.4e", static_cast<double>(v));
        return buf;
    }
};

class Printer {
public:
    Printer(std::ostream& os, const Tensor& t) : os_(os), t_(t), summarize_(t.numel() > kSummarizeAbove) {
        strides_.assign(static_cast<size_t>(t.ndim()), 1);
        for (int d = t.ndim() - 2; d >= 0; --d) strides_[d] = strides_[d + 1] * t.dim(d + 1);
        choose_format();
    }

    // Prints dimension d of the block starting at flat index `offset`; `indent` is the column
    // the block's '[' sits at.
    void block(int d, int64_t offset, size_t indent) {
        if (d == t_.ndim()) {
            os_ << pad(format_.str(t_.data()[offset]));
            return;
        }
        os_ << '[';
        const std::vector<int64_t> idx = shown_indices(t_.dim(d), summarize_);
        const bool last_dim = d == t_.ndim() - 1;
        size_t column = indent + 1;
        for (size_t k = 0; k < idx.size(); ++k) {
            if (k > 0) {
                if (last_dim) {
                    os_ << ',';
                    // Wrap a long row, continuing under its first value.
                    if (column + 2 + format_.width > kLineWidth) {
                        os_ << '\n' << std::string(indent + 1, ' ');
                        column = indent + 1;
                    } else {
                        os_ << ' ';
                        column += 2;
                    }
                } else {
                    // Between blocks: a new line, plus a blank line per dimension beyond 2.
                    os_ << ',' << std::string(static_cast<size_t>(t_.ndim() - d - 1), '\n')
                        << std::string(indent + 1, ' ');
                }
            }
            if (idx[k] < 0) {
                os_ << (last_dim ? pad("...") : std::string("..."));
            } else {
                block(d + 1, offset + idx[k] * strides_[d], indent + 1);
            }
            column += format_.width;
        }
        os_ << ']';
    }

private:
    std::string pad(const std::string& s) const {
        return std::string(format_.width > s.size() ? format_.width - s.size() : 0, ' ') + s;
    }

    // Looks at the values that will be printed to pick the format and the column width.
    void choose_format() {
        std::vector<float> shown;
        collect(0, 0, shown);
        bool all_whole = true;
        double max_abs = 0.0, min_abs = INFINITY;
        for (float v : shown) {
            if (!std::isfinite(v)) continue;
            const double a = std::fabs(static_cast<double>(v));
            all_whole = all_whole && a == std::floor(a) && a < 1e8;
            max_abs = std::max(max_abs, a);
            if (a > 0.0) min_abs = std::min(min_abs, a);
        }
        if (all_whole) format_.kind = NumberFormat::whole;
        else if (max_abs >= 1e8 || min_abs < 1e-4 || max_abs / min_abs > 1e3) format_.kind = NumberFormat::scientific;
        else format_.kind = NumberFormat::fixed;
        for (float v : shown) format_.width = std::max(format_.width, format_.str(v).size());
    }

    void collect(int d, int64_t offset, std::vector<float>& out) const {
        if (d == t_.ndim()) {
            out.push_back(t_.data()[offset]);
            return;
        }
        for (int64_t i : shown_indices(t_.dim(d), summarize_))
            if (i >= 0) collect(d + 1, offset + i * strides_[d], out);
    }

    std::ostream& os_;
    const Tensor& t_;
    bool summarize_;
    std::vector<int64_t> strides_;
    NumberFormat format_;
};

}  // namespace

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
    if (!t.defined()) return os << "tensor(undefined)";
    const std::string open = "tensor(";
    os << open;
    if (t.numel() == 0) {
        os << "[]";
    } else {
        Printer printer(os, t);
        printer.block(0, 0, open.size());
    }
    os << ", shape=" << t.shape().str();
    if (t.requires_grad()) os << ", requires_grad";
    return os << ')';
}

}  // namespace bnlab
