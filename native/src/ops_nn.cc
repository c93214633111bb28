// Network layers as functional ops (no state here: modules live in TypeScript).
#include <torch/csrc/autograd/custom_function.h>

#include "addon_data.h"
#include "common.h"

namespace saln {

namespace {

// Full convolutions (groups 1, dilation 1) as matmuls over the input's unfolded patches (im2col),
// in channels-last order: rows (n, oh, ow), columns (kh, kw, c). libtorch 1.13's oneDNN bf16 kernels
// run far below the matmul's speed on small maps: backward-weights 2-8x slower than the forward
// convolution on 8×8 and 4×4 outputs, backward-data 2-4x slower on strided ones (BENCHMARKS.md, bf16).

struct ConvGeometry {
  int64_t n, c, h, w, o, kh, kw, oh, ow;
  std::vector<int64_t> stride, padding;
  int64_t Rows() const { return n * oh * ow; }
  int64_t Cols() const { return kh * kw * c; }
};

ConvGeometry Geometry(const at::Tensor& x, const at::Tensor& w, std::vector<int64_t> stride, std::vector<int64_t> padding) {
  const int64_t h = x.size(2), wd = x.size(3), kh = w.size(2), kw = w.size(3);
  return {x.size(0), x.size(1), h, wd, w.size(0), kh, kw, (h + 2 * padding[0] - kh) / stride[0] + 1,
          (wd + 2 * padding[1] - kw) / stride[1] + 1, std::move(stride), std::move(padding)};
}

// x [N, C, H, W] → [N·OH·OW, kh·kw·C].
at::Tensor Unfold(const at::Tensor& x, const ConvGeometry& g) {
  return at::constant_pad_nd(x, {g.padding[1], g.padding[1], g.padding[0], g.padding[0]})
      .permute({0, 2, 3, 1})                // [N, H+2p, W+2p, C]
      .unfold(1, g.kh, g.stride[0])         // [N, OH, W+2p, C, kh]
      .unfold(2, g.kw, g.stride[1])         // [N, OH, OW, C, kh, kw]
      .permute({0, 1, 2, 4, 5, 3})
      .reshape({g.Rows(), g.Cols()});
}

// Unfold's adjoint: sums each patch row of cols [N·OH·OW, kh·kw·C] back onto the input's pixels, in
// float32 (one rounding at the end, as a convolution kernel), as a channels-last [N, C, H, W].
at::Tensor Fold(const at::Tensor& cols, const ConvGeometry& g, at::ScalarType dtype) {
  const at::Tensor patches = cols.view({g.n, g.oh, g.ow, g.kh, g.kw, g.c});
  at::Tensor padded = at::zeros({g.n, g.h + 2 * g.padding[0], g.w + 2 * g.padding[1], g.c}, cols.options().dtype(at::kFloat));
  for (int64_t i = 0; i < g.kh; ++i) {
    for (int64_t j = 0; j < g.kw; ++j) {
      padded.slice(1, i, i + g.stride[0] * (g.oh - 1) + 1, g.stride[0])
          .slice(2, j, j + g.stride[1] * (g.ow - 1) + 1, g.stride[1])
          .add_(patches.select(3, i).select(3, j));
    }
  }
  return padded.slice(1, g.padding[0], g.padding[0] + g.h).slice(2, g.padding[1], g.padding[1] + g.w).to(dtype).permute({0, 3, 1, 2});
}

// w [O, C, kh, kw] as the matrix [O, kh·kw·C] that multiplies Unfold's columns.
at::Tensor WeightMatrix(const at::Tensor& w) { return w.permute({0, 2, 3, 1}).reshape({w.size(0), -1}); }

// The input's gradient as the forward convolution of the output's gradient with the flipped,
// transposed kernel (stride 1 only): oneDNN's forward kernel beats its backward-data one.
at::Tensor InputGradByFlippedConv(const at::Tensor& go, const at::Tensor& w, const ConvGeometry& g) {
  at::Tensor flipped = w.flip({2, 3}).transpose(0, 1).contiguous(w.suggest_memory_format());
  return at::conv2d(go, flipped, {}, {1, 1}, {g.kh - 1 - g.padding[0], g.kw - 1 - g.padding[1]});
}

// The weight's gradient is always Unfold's matmul. forwardByMatmul computes the forward pass as
// one too (else libtorch's convolution); inputGradByFold takes the input's gradient as Fold of a
// matmul (else the flipped-kernel convolution, or libtorch's backward where that does not apply).
struct Conv2dIm2col : public torch::autograd::Function<Conv2dIm2col> {
  // b is an input of the autograd node only when given.
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const at::Tensor& w, const Optional<at::Tensor>& b,
                            std::vector<int64_t> stride, std::vector<int64_t> padding, bool forwardByMatmul, bool inputGradByFold) {
    ctx->save_for_backward({x, w});
    ctx->saved_data["stride"] = stride;
    ctx->saved_data["padding"] = padding;
    ctx->saved_data["bias"] = b.has_value();
    ctx->saved_data["fold"] = inputGradByFold;
    if (!forwardByMatmul) return at::conv2d(x, w, b, stride, padding);
    const ConvGeometry g = Geometry(x, w, stride, padding);
    const at::Tensor cols = Unfold(x, g), wt = WeightMatrix(w).t();
    const at::Tensor y = b.has_value() ? at::addmm(*b, cols, wt) : at::mm(cols, wt);
    return y.view({g.n, g.oh, g.ow, g.o}).permute({0, 3, 1, 2});  // channels-last [N, O, OH, OW]
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grad) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &x = saved[0], &w = saved[1];
    const ConvGeometry g = Geometry(x, w, ctx->saved_data["stride"].toIntVector(), ctx->saved_data["padding"].toIntVector());
    const at::Tensor go2 = grad[0].permute({0, 2, 3, 1}).reshape({g.Rows(), g.o});  // a view when go is channels-last
    at::Tensor gx, gw, gb;
    if (ctx->needs_input_grad(0)) {
      const bool unitStride = g.stride[0] == 1 && g.stride[1] == 1 && g.padding[0] < g.kh && g.padding[1] < g.kw;
      if (ctx->saved_data["fold"].toBool()) gx = Fold(at::mm(go2, WeightMatrix(w)), g, x.scalar_type());
      else if (unitStride) gx = InputGradByFlippedConv(grad[0], w, g);
      else gx = std::get<0>(at::convolution_backward(grad[0], x, w, kNone, g.stride, g.padding, {1, 1}, false, {0, 0}, 1, {true, false, false}));
    }
    if (ctx->needs_input_grad(1)) gw = at::mm(go2.t(), Unfold(x, g)).view({g.o, g.kh, g.kw, g.c}).permute({0, 3, 1, 2});
    // The bias's gradient summed in float32, as libtorch's convolution backward does.
    // (needs_input_grad counts the node's tensor inputs: b is the third only when given.)
    if (ctx->saved_data["bias"].toBool() && ctx->needs_input_grad(2)) gb = go2.sum(0, false, at::kFloat).to(go2.scalar_type());
    return {gx, gw, gb, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

// conv2dIm2col(x, weight, bias?, stride[2], padding[2], forwardByMatmul, inputGradByFold): conv2d
// (groups 1, dilation 1) by the matmuls above; x and weight share a dtype (the caller casts them
// under autocast).
SALN_OP(conv2dIm2col, "conv2dIm2col") {
  const at::Tensor x = call.T(0), w = call.T(1);
  Optional<at::Tensor> b = call.OptT(2);
  if (b.has_value()) b = b->to(x.scalar_type());
  return Wrap(call.Env(), Conv2dIm2col::apply(x, w, b, call.Ints(3), call.Ints(4), call.B(5), call.B(6)));
}

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
  SALN_EXPORT(exports, conv2dIm2col);
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
