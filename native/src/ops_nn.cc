// Network layers as functional ops (no state here: modules live in TypeScript).
#include <torch/csrc/autograd/custom_function.h>

#include "addon_data.h"
#include "common.h"

namespace saln {

namespace {

// The input's gradient. With stride 1 it is the forward convolution of the output's gradient with
// the flipped, transposed kernel, which oneDNN's forward kernel computes faster than its
// backward-data one on small maps; otherwise libtorch's own backward.
at::Tensor InputGrad(const at::Tensor& go, const at::Tensor& x, const at::Tensor& w, const std::vector<int64_t>& stride,
                     const std::vector<int64_t>& padding) {
  const int64_t kh = w.size(2), kw = w.size(3);
  if (stride[0] == 1 && stride[1] == 1 && padding[0] < kh && padding[1] < kw) {
    at::Tensor flipped = w.flip({2, 3}).transpose(0, 1).contiguous(w.suggest_memory_format());
    return at::conv2d(go, flipped, {}, {1, 1}, {kh - 1 - padding[0], kw - 1 - padding[1]});
  }
  return std::get<0>(at::convolution_backward(go, x, w, kNone, stride, padding, {1, 1}, false, {0, 0}, 1, {true, false, false}));
}

// A full convolution (groups 1, dilation 1) whose weight gradient is one matmul over the input's
// unfolded patches, in channels-last order: [O, N·OH·OW] × [N·OH·OW, kh·kw·C]. On small maps
// oneDNN's bf16 backward-weights kernel (libtorch 1.13, AMX) runs 3-8x slower than the forward
// convolution of the same size, while this matmul runs at forward speed (BENCHMARKS.md, bf16).
// Forward is libtorch's own convolution; the input's gradient is InputGrad's.
struct Conv2dUnfoldGrad : public torch::autograd::Function<Conv2dUnfoldGrad> {
  // b is an input of the autograd node only when given.
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const at::Tensor& w, const Optional<at::Tensor>& b,
                            std::vector<int64_t> stride, std::vector<int64_t> padding) {
    ctx->save_for_backward({x, w});
    ctx->saved_data["stride"] = stride;
    ctx->saved_data["padding"] = padding;
    ctx->saved_data["bias"] = b.has_value();
    return at::conv2d(x, w, b, stride, padding);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grad) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &x = saved[0], &w = saved[1], &go = grad[0];
    const std::vector<int64_t> stride = ctx->saved_data["stride"].toIntVector();
    const std::vector<int64_t> padding = ctx->saved_data["padding"].toIntVector();
    at::Tensor gx, gw;
    if (ctx->needs_input_grad(0)) gx = InputGrad(go, x, w, stride, padding);
    if (ctx->needs_input_grad(1)) {
      const int64_t n = x.size(0), c = x.size(1), o = w.size(0), kh = w.size(2), kw = w.size(3);
      // [N, H+2p, W+2p, C] → windows [N, OH, OW, C, kh, kw] → rows (n, oh, ow), columns (kh, kw, c).
      at::Tensor cols = at::constant_pad_nd(x, {padding[1], padding[1], padding[0], padding[0]})
                            .permute({0, 2, 3, 1})
                            .unfold(1, kh, stride[0])
                            .unfold(2, kw, stride[1]);
      const int64_t rows = n * cols.size(1) * cols.size(2);
      cols = cols.permute({0, 1, 2, 4, 5, 3}).reshape({rows, kh * kw * c});
      at::Tensor go2 = go.permute({0, 2, 3, 1}).reshape({rows, o});  // a view when go is channels-last
      gw = at::mm(go2.t(), cols).view({o, kh, kw, c}).permute({0, 3, 1, 2});
    }
    // The bias's gradient summed in float32, as libtorch's convolution backward does.
    // (needs_input_grad counts the node's tensor inputs: b is the third only when given.)
    const bool bias = ctx->saved_data["bias"].toBool();
    at::Tensor gb = bias && ctx->needs_input_grad(2) ? go.sum({0, 2, 3}, false, at::kFloat).to(go.scalar_type()) : at::Tensor();
    return {gx, gw, gb, at::Tensor(), at::Tensor()};
  }
};

}  // namespace

// conv2dUnfoldGrad(x, weight, bias?, stride[2], padding[2]): conv2d (groups 1, dilation 1) with the
// weight gradient above; x and weight share a dtype (the caller casts them under autocast).
SALN_OP(conv2dUnfoldGrad, "conv2dUnfoldGrad") {
  const at::Tensor x = call.T(0), w = call.T(1);
  std::vector<int64_t> stride = call.Ints(3), padding = call.Ints(4);
  Optional<at::Tensor> b = call.OptT(2);
  if (b.has_value()) b = b->to(x.scalar_type());
  return Wrap(call.Env(), Conv2dUnfoldGrad::apply(x, w, b, stride, padding));
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
  SALN_EXPORT(exports, conv2dUnfoldGrad);
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
