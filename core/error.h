// Errors thrown by bnlab. Every message names the op (or file) and the values involved,
// e.g. "linear: input (8,784) does not match weight (100,785): 784 != 785".
#pragma once

#include <stdexcept>
#include <string>

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

}  // namespace bnlab
