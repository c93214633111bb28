// Network layers as functional ops (no state here: modules live in TypeScript).
#include "addon_data.h"
#include "common.h"

namespace saln {

// conv2d(x, weight, bias?, stride[2], padding[2], dilation[2], groups)
SALN_OP(conv2d, "conv2d") {
  return Wrap(call.Env(), at::conv2d(call.T(0), call.T(1), call.OptT(2), call.Ints(3), call.Ints(4), call.Ints(5), call.I(6)));
}

// batchNorm(x, weight?, bias?, runningMean?, runningVar?, training, momentum, eps)
// In training mode libtorch updates the running stats in place (unbiased variance, as PyTorch).
SALN_OP(batchNorm, "batchNorm") {
  return Wrap(call.Env(), at::batch_norm(call.T(0), call.OptT(1), call.OptT(2), call.OptT(3), call.OptT(4), call.B(5),
                                         call.D(6), call.D(7), /*cudnn_enabled=*/true));
}

// maxPool2d(x, kernel[2], stride[2], padding[2], dilation[2], ceilMode)
SALN_OP(maxPool2d, "maxPool2d") {
  return Wrap(call.Env(), at::max_pool2d(call.T(0), call.Ints(1), call.Ints(2), call.Ints(3), call.Ints(4), call.B(5)));
}
// avgPool2d(x, kernel[2], stride[2], padding[2], ceilMode, countIncludePad)
SALN_OP(avgPool2d, "avgPool2d") {
  return Wrap(call.Env(), at::avg_pool2d(call.T(0), call.Ints(1), call.Ints(2), call.Ints(3), call.B(4), call.B(5)));
}
SALN_OP(adaptiveAvgPool2d, "adaptiveAvgPool2d") {
  return Wrap(call.Env(), at::adaptive_avg_pool2d(call.T(0), call.Ints(1)));
}
SALN_OP(softmax, "softmax") { return Wrap(call.Env(), at::softmax(call.T(0), call.I(1))); }
SALN_OP(logSoftmax, "logSoftmax") { return Wrap(call.Env(), at::log_softmax(call.T(0), call.I(1))); }
// dropout(x, p, train)
SALN_OP(dropout, "dropout") { return Wrap(call.Env(), at::dropout(call.T(0), call.D(1), call.B(2))); }

// crossEntropy(logits, target, weight?, reduction 0 none|1 mean|2 sum, ignoreIndex, labelSmoothing)
SALN_OP(crossEntropy, "crossEntropy") {
  return Wrap(call.Env(), at::cross_entropy_loss(call.T(0), call.T(1), call.OptT(2), call.I(3), call.I(4), call.D(5)));
}
// nllLoss(logProbs, target, weight?, reduction, ignoreIndex)
SALN_OP(nllLoss, "nllLoss") {
  return Wrap(call.Env(), at::nll_loss(call.T(0), call.T(1), call.OptT(2), call.I(3), call.I(4)));
}
// mseLoss(a, b, reduction)
SALN_OP(mseLoss, "mseLoss") { return Wrap(call.Env(), at::mse_loss(call.T(0), call.T(1), call.I(2))); }

// affineGrid(theta [N,2,3], size [N,C,H,W], alignCorners)
SALN_OP(affineGrid, "affineGrid") {
  return Wrap(call.Env(), at::affine_grid_generator(call.T(0), call.Ints(1), call.B(2)));
}
// gridSample(x, grid, mode 0 bilinear|1 nearest|2 bicubic, padding 0 zeros|1 border|2 reflection, alignCorners)
SALN_OP(gridSample, "gridSample") {
  return Wrap(call.Env(), at::grid_sampler(call.T(0), call.T(1), call.I(2), call.I(3), call.B(4)));
}
// interpolateBilinear(x, size[2], alignCorners, antialias)
SALN_OP(interpolateBilinear, "interpolateBilinear") {
  if (call.B(3)) return Wrap(call.Env(), at::_upsample_bilinear2d_aa(call.T(0), call.Ints(1), call.B(2), kNone, kNone));
  return Wrap(call.Env(), at::upsample_bilinear2d(call.T(0), call.Ints(1), call.B(2), kNone, kNone));
}
SALN_OP(interpolateNearest, "interpolateNearest") {
  return Wrap(call.Env(), at::upsample_nearest2d(call.T(0), call.Ints(1), kNone, kNone));
}

// constantPad(x, pads, value): pads as F.pad, last dim first: [left, right, top, bottom, …].
SALN_OP(constantPad, "constantPad") { return Wrap(call.Env(), at::constant_pad_nd(call.T(0), call.Ints(1), call.Sc(2))); }

void InitNN(Napi::Env env, Napi::Object exports) {
  SALN_EXPORT(exports, conv2d);
  SALN_EXPORT(exports, batchNorm);
  SALN_EXPORT(exports, maxPool2d);
  SALN_EXPORT(exports, avgPool2d);
  SALN_EXPORT(exports, adaptiveAvgPool2d);
  SALN_EXPORT(exports, softmax);
  SALN_EXPORT(exports, logSoftmax);
  SALN_EXPORT(exports, dropout);
  SALN_EXPORT(exports, crossEntropy);
  SALN_EXPORT(exports, nllLoss);
  SALN_EXPORT(exports, mseLoss);
  SALN_EXPORT(exports, affineGrid);
  SALN_EXPORT(exports, gridSample);
  SALN_EXPORT(exports, interpolateBilinear);
  SALN_EXPORT(exports, interpolateNearest);
  SALN_EXPORT(exports, constantPad);
}

}  // namespace saln
