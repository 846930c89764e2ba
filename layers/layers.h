// Everything in layers/, for `#include "layers/layers.h"`.
#pragma once

#include "layers/affine.h"
#include "layers/module.h"
#include "layers/norm.h"
#include "layers/residual.h"
#include "layers/simple.h"
