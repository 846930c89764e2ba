// Errors thrown by bnlab. Every message names the op (or file, or config field) and the values
// involved, e.g. "linear: input (8,784) does not match weight (100,785): 784 != 785".
#pragma once

#include <algorithm>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace bnlab {

// Base class of every error bnlab throws on purpose.
class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Tensors whose shapes do not fit the op.
class ShapeError : public Error {
public:
    using Error::Error;
};

// The autodiff tape was used wrongly (backward twice, no tape, ...).
class TapeError : public Error {
public:
    using Error::Error;
};

// A setting with a bad value, named by its field: the key it has in config.json (e.g.
// "batch_size", "model", "gn_groups"), never a command-line flag. what() is "field: problem";
// a front end that spells the field otherwise (apps/: --batch) says field() its own way.
class FieldError : public Error {
public:
    FieldError(std::string field, std::string problem)
        : Error(field + ": " + problem), field_(std::move(field)), problem_(std::move(problem)) {}
    const std::string& field() const { return field_; }
    const std::string& problem() const { return problem_; }

private:
    std::string field_, problem_;
};

// The problem of a value outside its list of choices:
// "unknown model 'resnet' (known: mlp, small-cnn, mnist-cnn, cifar-cnn)".
inline std::string unknown_choice(const std::string& noun, const std::string& value, const std::vector<std::string>& known) {
    std::string list;
    for (const std::string& name : known) list += (list.empty() ? "" : ", ") + name;
    return "unknown " + noun + " '" + value + "' (known: " + list + ")";
}

// Throws FieldError(field, unknown_choice(...)) unless `value` is one of `known`.
inline void require_choice(const std::string& field, const std::string& noun, const std::string& value,
                           const std::vector<std::string>& known) {
    if (std::find(known.begin(), known.end(), value) == known.end())
        throw FieldError(field, unknown_choice(noun, value, known));
}

}  // namespace bnlab
