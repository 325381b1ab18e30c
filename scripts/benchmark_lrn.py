r"""LRN benchmark: the network's two LRN layers alone, forward and backward.

  python scripts/benchmark_lrn.py [--batch_size 32] [--steps 20] [--repeats 3]

For each of model_fn.LRN_IMPLEMENTATIONS it builds the two LRN layers of the
network (--lrn_convention, default the tutorial's) on variables of the shapes
their inputs have in the network at --image_size (conv1's and conv2's ReLU
outputs, NHWC), and times one step that computes both layers and their
gradients with respect to their inputs (for a loss of sum(y * dy), dy fixed
random), in a tf.Session with the CLI's session config. Each round times
every implementation once, in alternating order; the ms per step printed are
the medians over the rounds, and the ratio each round's, paired.

This is the layer alone: in a training step its cost differs (layout
conversions on the MKL build, other ops running beside it). scripts/
benchmark.py measures the whole step. Run it on a quiet machine.
"""
import argparse
import os
import statistics
import sys
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '1')  # before TF loads

# pylint: disable=g-import-not-at-top,wrong-import-position
import tensorflow as tf

from alexnet_estimator import distribution
from alexnet_estimator import fused_lrn
from alexnet_estimator import log
from alexnet_estimator import model_fn as model_fn_lib
from alexnet_estimator import params as params_lib
from alexnet_estimator import train_benchmark


def layer_input_shapes(params, batch_size):
  """[batch, H, W, C] of each LRN layer's input in the network of params."""
  with tf.Graph().as_default() as graph:
    model_fn_lib.alexnet(tf.zeros([batch_size, params['image_size'],
                                   params['image_size'], 3]), False,
                         dict(params, data_format='channels_last'))
    return [graph.get_tensor_by_name(name + '/Relu:0').shape.as_list()
            for name in ('conv1', 'conv2')]


def ms_per_step(implementation, shapes, settings, config, warmup, steps):
  """Milliseconds per forward + backward step of both layers."""
  depth_radius, bias, alpha, beta = settings
  lrn = fused_lrn.lrn if implementation == 'fused' else tf.nn.lrn
  with tf.Graph().as_default():
    inputs = [tf.Variable(tf.random.uniform(shape, 0.0, 10.0))
              for shape in shapes]
    grads = [tf.Variable(tf.random.normal(shape)) for shape in shapes]
    outputs = [lrn(x, depth_radius=depth_radius, bias=bias, alpha=alpha,
                   beta=beta) for x in inputs]
    gradients = tf.gradients(outputs, inputs, grad_ys=grads)
    # One scalar back: the sums cost a pass over each result.
    step = [tf.reduce_sum(t) for t in outputs + gradients]
    with tf.Session(config=config) as sess:
      sess.run(tf.global_variables_initializer())
      for _ in range(warmup):
        sess.run(step)
      start = time.time()
      for _ in range(steps):
        sess.run(step)
      return 1000.0 * (time.time() - start) / steps


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--batch_size', type=int, default=32)
  parser.add_argument('--image_size', type=int, default=224)
  parser.add_argument('--lrn_convention', default='tutorial',
                      choices=[c for c in params_lib.LRN_CONVENTIONS
                               if model_fn_lib.LRN[c]])
  parser.add_argument('--steps', type=int, default=20)
  parser.add_argument('--warmup_steps', type=int, default=3)
  parser.add_argument('--repeats', type=int, default=3)
  args = parser.parse_args(argv)
  for flag in ('batch_size', 'steps', 'warmup_steps', 'repeats'):
    if getattr(args, flag) < 1:
      parser.error('--%s must be >= 1, got %d' % (flag, getattr(args, flag)))
  if args.image_size < 67:
    parser.error('--image_size must be >= 67 (the smallest input the network '
                 'takes), got %d' % args.image_size)
  log.quiet()
  params = params_lib.make_params(image_size=args.image_size,
                                  lrn_convention=args.lrn_convention)
  shapes = layer_input_shapes(params, args.batch_size)
  settings = model_fn_lib.LRN[args.lrn_convention]
  config = train_benchmark.session_config(None, None)
  implementations = [name for name in model_fn_lib.LRN_IMPLEMENTATIONS
                     if name != 'fused' or fused_lrn.load() is not None]
  print('TensorFlow %s%s; LRN %s (depth_radius %d, bias %g, alpha %g, beta '
        '%g) on %s, forward and backward; %d steps after %d, %d round(s)'
        % (tf.__version__, ' (MKL)' if distribution.mkl_enabled() else '',
           args.lrn_convention, settings[0], settings[1], settings[2],
           settings[3], ' and '.join('x'.join(map(str, s)) for s in shapes),
           args.steps, args.warmup_steps, args.repeats))
  times = {name: [] for name in implementations}
  for round_index in range(args.repeats):
    order = implementations[::-1] if round_index % 2 else implementations
    for name in order:
      times[name].append(ms_per_step(name, shapes, settings, config,
                                     args.warmup_steps, args.steps))
    print('  round %d: %s' % (round_index + 1, ', '.join(
        '%s %.1f ms' % (name, times[name][-1]) for name in implementations)))
  line = ', '.join('%s %.1f ms' % (name, statistics.median(times[name]))
                   for name in implementations)
  if len(implementations) == 2:
    ratios = [a / b for a, b in zip(*(times[n] for n in implementations))]
    line += '; %s / %s %.2f (median of %d rounds, %.2f-%.2f)' % (
        implementations[0], implementations[1], statistics.median(ratios),
        len(ratios), min(ratios), max(ratios))
  print('per step: ' + line)
  return 0


if __name__ == '__main__':
  sys.exit(main())
