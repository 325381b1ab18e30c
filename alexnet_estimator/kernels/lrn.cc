// AlexnetLRN and AlexnetLRNGrad: tf.nn.lrn's function and gradient on the
// CPU, one row of channels at a time.
//
//   d_c = bias + alpha * sum_{|k - c| <= depth_radius} x_k^2
//   y_c = x_c * d_c^-beta
//   dx_k = dy_k * d_k^-beta
//          - 2 * alpha * beta * x_k * sum_{|c - k| <= depth_radius} dy_c y_c / d_c
//
// The gradient is TensorFlow's LRNGrad formula. Why a kernel of our own:
// TensorFlow's CPU LRN multiplies every row by a dense band matrix (C
// multiply-adds per value where the window has 2 * depth_radius + 1) and its
// LRNGrad loops over the window per value with a pow in the inner loop; the
// MKL build replaces both with MKL-DNN's only for depth_radius 2. Here each
// row of C channels (an NHWC tensor's last axis) stays in the L1 cache: the
// window sums are 2 * depth_radius + 1 shifted vector adds, the power is
// rsqrt-based for beta 0.75, 0.5 and 1, and the gradient recomputes d from x
// instead of reading y, so the backward pass reads two tensors and writes
// one. Rows are split across TensorFlow's intra-op threads.
//
// Built by alexnet_estimator/fused_lrn.py with the installed TensorFlow's
// compile and link flags; the Python side registers the gradient.
#include <algorithm>
#include <cmath>
#include <vector>

#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tensorflow/core/util/work_sharder.h"

namespace alexnet_estimator {
namespace {

using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::Status;
using tensorflow::Tensor;
using tensorflow::TensorShape;
using tensorflow::int64;
using tensorflow::shape_inference::InferenceContext;
using tensorflow::shape_inference::ShapeHandle;

Status SameShape(InferenceContext* c) {
  ShapeHandle shape;
  TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 4, &shape));
  for (int i = 1; i < c->num_inputs(); ++i) {
    TF_RETURN_IF_ERROR(c->Merge(shape, c->input(i), &shape));
  }
  c->set_output(0, shape);
  return Status::OK();
}

}  // namespace

// tf.nn.lrn's attributes and defaults, which both ops take (LrnBase reads
// them).
#define ALEXNET_LRN_ATTRS                  \
  Attr("depth_radius: int >= 0 = 5")       \
      .Attr("bias: float = 1.0")           \
      .Attr("alpha: float = 1.0")          \
      .Attr("beta: float = 0.5")

REGISTER_OP("AlexnetLRN")
    .Input("input: float")
    .Output("output: float")
    .ALEXNET_LRN_ATTRS
    .SetShapeFn(SameShape)
    .Doc("tf.nn.lrn on an NHWC float32 tensor, computed row by row.");

REGISTER_OP("AlexnetLRNGrad")
    .Input("input_grads: float")
    .Input("input_image: float")
    .Output("output: float")
    .ALEXNET_LRN_ATTRS
    .SetShapeFn(SameShape)
    .Doc("The gradient of AlexnetLRN at input_image for input_grads.");

#undef ALEXNET_LRN_ATTRS

namespace {

// The arithmetic of one row of `channels` values.
class Row {
 public:
  Row(int depth_radius, float bias, float alpha, float beta, int channels)
      : radius_(depth_radius), bias_(bias), alpha_(alpha), beta_(beta),
        channels_(channels), scratch_(3 * channels) {}

  // y = x * d^-beta.
  void Forward(const float* __restrict__ x, float* __restrict__ y) {
    float* d = scratch_.data();
    float* power = d + channels_;
    Denominator(x, d, power);
    for (int c = 0; c < channels_; ++c) y[c] = x[c] * power[c];
  }

  // dx from dy and x, recomputing d.
  void Backward(const float* __restrict__ dy, const float* __restrict__ x,
                float* __restrict__ dx) {
    float* d = scratch_.data();
    float* power = d + channels_;
    float* t = power + channels_;
    Denominator(x, d, power);
    // t = dy * y / d, then its window sum into d (d is not needed after).
    for (int c = 0; c < channels_; ++c) t[c] = dy[c] * x[c] * power[c] / d[c];
    WindowSum(t, d);
    const float factor = -2.0f * alpha_ * beta_;
    for (int c = 0; c < channels_; ++c) {
      dx[c] = dy[c] * power[c] + factor * x[c] * d[c];
    }
  }

 private:
  // d = bias + alpha * window sum of x^2; power = d^-beta. `power` holds the
  // squares on the way.
  void Denominator(const float* __restrict__ x, float* __restrict__ d,
                   float* __restrict__ power) {
    for (int c = 0; c < channels_; ++c) power[c] = x[c] * x[c];
    WindowSum(power, d);
    for (int c = 0; c < channels_; ++c) d[c] = bias_ + alpha_ * d[c];
    if (beta_ == 0.75f) {
      for (int c = 0; c < channels_; ++c) {
        const float root = 1.0f / std::sqrt(d[c]);
        power[c] = root * std::sqrt(root);
      }
    } else if (beta_ == 0.5f) {
      for (int c = 0; c < channels_; ++c) power[c] = 1.0f / std::sqrt(d[c]);
    } else if (beta_ == 1.0f) {
      for (int c = 0; c < channels_; ++c) power[c] = 1.0f / d[c];
    } else {
      Eigen::Map<Eigen::ArrayXf>(power, channels_) =
          (Eigen::Map<const Eigen::ArrayXf>(d, channels_).log() * -beta_)
              .exp();
    }
  }

  // out_c = sum of v over the channels within radius_ of c.
  void WindowSum(const float* __restrict__ v, float* __restrict__ out) const {
    for (int c = 0; c < channels_; ++c) out[c] = v[c];
    for (int k = 1; k <= radius_ && k < channels_; ++k) {
      for (int c = k; c < channels_; ++c) out[c] += v[c - k];
      for (int c = 0; c + k < channels_; ++c) out[c] += v[c + k];
    }
  }

  const int radius_;
  const float bias_, alpha_, beta_;
  const int channels_;
  std::vector<float> scratch_;
};

class LrnBase : public OpKernel {
 public:
  explicit LrnBase(OpKernelConstruction* context) : OpKernel(context) {
    OP_REQUIRES_OK(context, context->GetAttr("depth_radius", &radius_));
    OP_REQUIRES_OK(context, context->GetAttr("bias", &bias_));
    OP_REQUIRES_OK(context, context->GetAttr("alpha", &alpha_));
    OP_REQUIRES_OK(context, context->GetAttr("beta", &beta_));
  }

 protected:
  // Runs work(row, begin, end) over the rows of `shape`'s last axis, split
  // across the intra-op threads; `row` is the caller's Row for that shard.
  template <typename Work>
  void ForEachRow(OpKernelContext* context, const TensorShape& shape,
                  int inputs, Work work) const {
    const int channels = static_cast<int>(shape.dim_size(3));
    if (channels == 0) return;
    const int64 rows = shape.num_elements() / channels;
    // Cycles per row, roughly: the window sums and the power per value.
    const int64 cost = static_cast<int64>(channels) * (inputs + 1) *
                       (2 * radius_ + 12);
    const auto& threads = *context->device()->tensorflow_cpu_worker_threads();
    tensorflow::Shard(threads.num_threads, threads.workers, rows, cost,
                      [&](int64 begin, int64 end) {
                        Row row(radius_, bias_, alpha_, beta_, channels);
                        for (int64 i = begin; i < end; ++i) {
                          work(&row, i * channels);
                        }
                      });
  }

  int radius_;
  float bias_, alpha_, beta_;
};

class LrnOp : public LrnBase {
 public:
  using LrnBase::LrnBase;

  void Compute(OpKernelContext* context) override {
    const Tensor& input = context->input(0);
    OP_REQUIRES(context, input.dims() == 4,
                tensorflow::errors::InvalidArgument(
                    "AlexnetLRN: input must be 4-dimensional, got shape ",
                    input.shape().DebugString()));
    Tensor* output = nullptr;
    OP_REQUIRES_OK(context,
                   context->allocate_output(0, input.shape(), &output));
    const float* x = input.flat<float>().data();
    float* y = output->flat<float>().data();
    ForEachRow(context, input.shape(), 1, [&](Row* row, int64 offset) {
      row->Forward(x + offset, y + offset);
    });
  }
};

class LrnGradOp : public LrnBase {
 public:
  using LrnBase::LrnBase;

  void Compute(OpKernelContext* context) override {
    const Tensor& grads = context->input(0);
    const Tensor& input = context->input(1);
    OP_REQUIRES(context, input.dims() == 4 && grads.shape() == input.shape(),
                tensorflow::errors::InvalidArgument(
                    "AlexnetLRNGrad: input_grads and input_image must have "
                    "one 4-dimensional shape, got ",
                    grads.shape().DebugString(), " and ",
                    input.shape().DebugString()));
    Tensor* output = nullptr;
    OP_REQUIRES_OK(context,
                   context->allocate_output(0, input.shape(), &output));
    const float* dy = grads.flat<float>().data();
    const float* x = input.flat<float>().data();
    float* dx = output->flat<float>().data();
    ForEachRow(context, input.shape(), 2, [&](Row* row, int64 offset) {
      row->Backward(dy + offset, x + offset, dx + offset);
    });
  }
};

REGISTER_KERNEL_BUILDER(
    Name("AlexnetLRN").Device(tensorflow::DEVICE_CPU), LrnOp);
REGISTER_KERNEL_BUILDER(
    Name("AlexnetLRNGrad").Device(tensorflow::DEVICE_CPU), LrnGradOp);

}  // namespace
}  // namespace alexnet_estimator
