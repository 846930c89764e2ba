// Compiled by the arrows test against bnlab::layers only: train/ sits above layers/, so this
// include must not be found and the build must fail.
#include "train/trainer.h"
int wrong_way() { return 0; }
