r"""Training benchmark: Estimator vs tf.Session, op-type shares, LRN's cost.

  python scripts/benchmark.py [--batch_sizes 32,64] [--steps 30]
  python -m alexnet_estimator.train_benchmark [...]     (the same)

For each batch size it trains AlexNet on the synthetic input (one random batch
made once and cached in the dataset, so the input costs nothing) two ways:

  estimator  what the CLI's training does: tf.estimator.Estimator(model_fn,
             params, config=estimator.make_run_config(...)) in a fresh
             temporary model_dir, the CLI's ProgressHook, summaries and
             logging every --log_every_n_steps (the CLI's default 10), a
             checkpoint every 10 minutes
  session    the same graph (model_fn in TRAIN mode on the same dataset's
             iterator) in a tf.Session with the same session config, running
             only train_op

Only steady-state steps are timed: from the end of step --warmup_steps to the
end of the last step, so graph building, variable initialisation, the first
checkpoint and the final one are not counted. The disk is synced (os.sync)
before each run and at the end of the warm-up, so the writing back of a
checkpoint (about 470 MB at 1000 classes, with the momentum slots), which
Linux starts some 30 s later, does not land in a timed window. Timed steps
should be a multiple of --log_every_n_steps, so the window holds the
Estimator's usual share of summary steps.

The CPU's practical peak is the GFLOP/s of a large float32 tf.matmul
(--gemm_size square, best of --gemm_runs) in a session with the same thread
settings, divided by the network's training cost per image. On the MKL build
(intel-tensorflow) tf.matmul is MKL's sgemm, which runs far below the CPU's
speed on AMD processors (about 75 GFLOP/s against Eigen's 200 here), so there
the matmul is also measured with MKL turned off (TF_DISABLE_MKL=1, Eigen's
kernel, in a subprocess) and the faster of the two counts. The cost per image
is 3x its forward
FLOPs, counted from the layer shapes of the graph (convolutions 2*K*K*Cin*Cout
*Hout*Wout per group, dense layers 2*in*out; LRN, pooling, bias, ReLU, dropout
and softmax are not counted).

Where the step's time goes: after its timed steps, each session run traces
--trace_steps more (tf.RunMetadata, FULL_TRACE) and sums each op's compute
time by op type (the kernel that ran: _MklConv2D on the MKL build), over all
rounds. Ops can overlap, so shares are of the summed op time. The LRN share
is the time of the ops under the name scopes lrn1 and lrn2, forward and
gradient, whatever implements them (model_fn.lrn_implementation: tf.nn.lrn's
LRN and LRNGrad, or the fused kernel's AlexnetLRN and AlexnetLRNGrad);
layout conversions the MKL build inserts between ops keep their own types
(_MklToTf, _MklInputConversion) and are not counted in it.

What LRN costs the whole step: each round also trains the session mode with
lrn_convention 'none' (the same network without LRN, no other change), right
next to the session run with LRN, and the with / without ratio of each round
is paired as the estimator / session one is. Where the LRN layers are not
tf.nn.lrn (the fused kernel, which training on the CPU uses), each round
also trains the session mode with tf.nn.lrn (model_fn.LRN_OVERRIDE): the
training speed before and after, paired the same way. --no_lrn_compare
skips both.

Each batch size runs --repeats rounds; a round measures the matmul, then the
modes in alternating order (session, session without LRN, session with
tf.nn.lrn, estimator; then the reverse; ...). The runs of a round are
minutes apart while the machine's speed drifts by several per cent over tens
of minutes, so each round gives one paired ratio (estimator / session) and
the summary line reports the median of those ratios with their range, and
the median rate of each mode. Output:

  network: forward 2.020 GFLOP/image (2019891456 FLOP) at 224x224, ...
    batch 32 round 1: session 18.2 img/s, estimator 17.9 img/s, ratio 0.984;
    sgemm 201.3 GFLOP/s                                  (one line per round)
    batch 32 round 1 LRN: with 18.2 img/s, without 21.5 img/s, ratio 0.847
    batch 32 round 1 LRN fused vs tf.nn.lrn: fused 21.0 img/s, tf.nn.lrn
    18.2 img/s, ratio 1.154                             (one line per round)
  batch 32: estimator 17.9 img/s, session 18.2 img/s, ratio 0.984 (median of
    4 rounds, 0.962-1.010); sgemm 201.3 GFLOP/s, peak 33.2 img/s, estimator
    at 54% of peak, session at 55% of peak               (one line)
  batch 32 LRN: with 18.2 img/s, without 21.5 img/s (session), ratio 0.847
    (median of 4 rounds, 0.840-0.860): LRN takes 15.3% of a step
  batch 32 LRN fused vs tf.nn.lrn: fused 21.0 img/s, tf.nn.lrn 18.2 img/s
    (session), ratio 1.154 (median of 4 rounds, 1.140-1.170)
  batch 32 op types: _MklConv2DBackpropFilter 28.3%, ... (top 8 of the
    summed op time of 12 traced steps)
  batch 32 LRN ops (lrn1, lrn2, fused): 2.1% of the summed op time:
    AlexnetLRNGrad 1.2%, AlexnetLRN 0.9%
  batch 32 LRN ops (lrn1, lrn2, tf.nn.lrn): 9.0% of the summed op time:
    LRNGrad 4.8%, LRN 4.2%     (the runs with tf.nn.lrn, where they are run)

Run it on a quiet machine.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from absl import logging
import tensorflow as tf

from alexnet_estimator import benchmarking
from alexnet_estimator import cli
from alexnet_estimator import distribution
from alexnet_estimator import estimator as estimator_lib
from alexnet_estimator import fused_lrn
from alexnet_estimator import hooks as hooks_lib
from alexnet_estimator import input_fn as input_lib
from alexnet_estimator import model_fn as model_fn_lib
from alexnet_estimator import params as params_lib

PROGRAM = 'benchmark.py'
MODES = ('estimator', 'session')
# Training costs about 3x the forward pass: the forward, the gradient with
# respect to each layer's input and the one with respect to its weights. (conv1
# needs no input gradient, so 3x overstates the work by conv1's forward, about
# 3% at 224: the fractions of peak printed are that much generous.)
TRAINING_FLOPS_FACTOR = 3
# The name scopes of the network's LRN layers (model_fn.alexnet).
LRN_SCOPES = ('lrn1', 'lrn2')
# Op types listed by the op-type line.
TOP_OP_TYPES = 8
# params keys the command line can override (flags of the same names).
_PARAM_FLAGS = ('image_size', 'num_classes', 'recipe', 'data_format',
                'optimizer', 'lrn_convention', 'conv_groups')


def forward_flops(params):
  """FLOPs of one image's forward pass, layer by layer.

  Builds the network of `params` (batch 1, NHWC: the count does not depend
  on the layout) and reads the shapes of its Conv2D and MatMul ops: a
  convolution costs 2*Kh*Kw*Cin*Cout*Hout*Wout (a grouped layer is one Conv2D
  per group, each on its share of the channels), a dense layer 2*in*out.
  LRN, pooling, bias, ReLU, dropout and softmax are not counted.

  Args:
    params: dict from params.make_params.

  Returns:
    List of (layer name, int FLOPs) in graph order, the groups of a grouped
    layer summed under its name (conv2, not conv2/group0).
  """
  size = params['image_size']
  totals = {}
  order = []
  with tf.Graph().as_default() as graph:
    model_fn_lib.alexnet(tf.zeros([1, size, size, 3]), False,
                         dict(params, data_format='channels_last'))
    for op in graph.get_operations():
      layer = op.name.split('/')[0]
      if layer in LRN_SCOPES:
        continue
      if op.type == 'Conv2D':
        kernel_h, kernel_w, depth_in, depth_out = op.inputs[1].shape.as_list()
        _, height, width, _ = op.outputs[0].shape.as_list()
        flops = (2 * kernel_h * kernel_w * depth_in * depth_out * height *
                 width)
      elif op.type == 'MatMul':
        units_in, units_out = op.inputs[1].shape.as_list()
        if op.get_attr('transpose_b'):
          units_in, units_out = units_out, units_in
        flops = 2 * units_in * units_out
      else:
        continue
      if layer not in totals:
        order.append(layer)
        totals[layer] = 0
      totals[layer] += flops
  return [(layer, totals[layer]) for layer in order]


def session_config(intra_op, inter_op):
  """The tf.ConfigProto both modes run with: make_run_config's.

  TF 1.x builds its thread pools for the first session of a process and
  shares them with the later ones, so every session here uses this config.

  Args:
    intra_op, inter_op: thread pool sizes, or None for TensorFlow's default.
  """
  config = tf.ConfigProto()
  if intra_op is not None:
    config.intra_op_parallelism_threads = intra_op
  if inter_op is not None:
    config.inter_op_parallelism_threads = inter_op
  return estimator_lib.make_run_config(None,
                                       session_config=config).session_config


def sgemm_gflops(size, runs, config):
  """Best GFLOP/s of a size x size float32 tf.matmul over `runs` runs.

  The operands are variables (nothing to constant-fold); the product is
  summed so that only a scalar comes back (size^2 adds, next to 2*size^3).
  """
  with tf.Graph().as_default():
    a = tf.Variable(tf.random.uniform([size, size]))
    b = tf.Variable(tf.random.uniform([size, size]))
    total = tf.reduce_sum(tf.matmul(a, b))
    with tf.Session(config=config) as sess:
      sess.run(tf.global_variables_initializer())
      sess.run(total)  # warm-up: kernel selection, buffers
      best = float('inf')
      for _ in range(runs):
        start = time.time()
        sess.run(total)
        best = min(best, time.time() - start)
  return 2.0 * size ** 3 / best / 1e9


def peak_sgemm_gflops(size, runs, config, intra_op, inter_op):
  """(GFLOP/s, which kernel) of the fastest large sgemm this build has.

  On the MKL build, also Eigen's, with MKL turned off in a subprocess (TF
  reads TF_DISABLE_MKL once per process).
  """
  best = (sgemm_gflops(size, runs, config), 'tf.matmul')
  if not distribution.mkl_enabled():
    return best
  command = [sys.executable, '-m', 'alexnet_estimator.train_benchmark',
             '--sgemm_only', '--gemm_size', str(size), '--gemm_runs',
             str(runs)]
  for flag, value in (('--intra_op', intra_op), ('--inter_op', inter_op)):
    if value is not None:
      command += [flag, str(value)]
  out = subprocess.check_output(command, env=dict(os.environ,
                                                  TF_DISABLE_MKL='1'))
  eigen = float(out.decode().split()[-1])
  return max(best, (eigen, 'tf.matmul without MKL (Eigen)'))


def estimator_rate(params, config, warmup_steps, steps, log_every_n_steps):
  """Images/sec of Estimator training as the CLI runs it, in a temp dir."""
  model_dir = tempfile.mkdtemp(prefix='alexnet_benchmark_')
  benchmarking.sync_disk()
  try:
    estimator = tf.estimator.Estimator(
        model_fn_lib.model_fn, params=params,
        config=estimator_lib.make_run_config(
            model_dir, log_every_n_steps=log_every_n_steps,
            session_config=config))
    last_step = warmup_steps + steps
    timer = benchmarking.StepTimes(sync_after=warmup_steps)
    estimator.train(
        input_lib.make_synthetic_input_fn(params), max_steps=last_step,
        hooks=[hooks_lib.ProgressHook(params['batch_size'], last_step,
                                      log_every_n_steps), timer])
  finally:
    shutil.rmtree(model_dir, ignore_errors=True)
  if len(timer.times) != last_step:
    raise RuntimeError('the Estimator ran %d steps, not %d'
                       % (len(timer.times), last_step))
  return benchmarking.images_per_sec(timer.times, warmup_steps,
                                     params['batch_size'])


def session_rate(params, config, warmup_steps, steps, trace_steps=0,
                 lrn_implementation=None):
  """Images/sec of train_op alone, on the Estimator's graph, in a tf.Session.

  `lrn_implementation`, if set, replaces the automatic one (a name of
  model_fn.LRN_IMPLEMENTATIONS).

  Returns:
    (images/sec, benchmarking.OpTimes of `trace_steps` traced steps run
    after the timed ones, or None without any).
  """
  with tf.Graph().as_default():
    if lrn_implementation:
      tf.add_to_collection(model_fn_lib.LRN_OVERRIDE, lrn_implementation)
    tf.train.get_or_create_global_step()
    with tf.device('/cpu:0'):  # where the Estimator puts its input_fn
      dataset = input_lib.make_synthetic_input_fn(params)()
      iterator = tf.compat.v1.data.make_initializable_iterator(dataset)
      features, labels = iterator.get_next()
    spec = model_fn_lib.model_fn(features, labels,
                                 tf.estimator.ModeKeys.TRAIN, params)
    benchmarking.sync_disk()
    with tf.Session(config=config) as sess:
      sess.run([tf.global_variables_initializer(),
                tf.local_variables_initializer(), iterator.initializer])
      timer = benchmarking.StepTimes(sync_after=warmup_steps)
      for _ in range(warmup_steps + steps):
        sess.run(spec.train_op)
        timer.step_done()
      trace = None
      if trace_steps:
        trace = benchmarking.trace_steps(sess, spec.train_op, trace_steps,
                                         LRN_SCOPES)
  return benchmarking.images_per_sec(timer.times, warmup_steps,
                                     params['batch_size']), trace


def summary_line(batch_size, rates, gemm, training_flops, round_number=None):
  """The figures of one batch size, or of one round of it, as one line.

  Args:
    batch_size: int.
    rates: {mode: [images/sec of each round]}, modes in the order to print;
      the estimator's and session's lists pair up round by round.
    gemm: [(GFLOP/s, kernel) of each round].
    training_flops: FLOPs of one training image; None leaves out the peak.
    round_number: for a round's line, its number; the rates are its own.

  Returns:
    'batch B: MODE R img/s, ..., ratio X (median of N rounds, LO-HI);
    sgemm G GFLOP/s, peak P img/s, MODE at F% of peak, ...': rates are
    medians over the rounds, the ratio is the median of each round's
    estimator / session (the paired figure: both runs of a round saw about
    the same machine), the sgemm is the fastest round's.
  """
  median = {mode: statistics.median(values) for mode, values in rates.items()}
  parts = ['%s %.1f img/s' % (mode, median[mode]) for mode in rates]
  if 'estimator' in rates and 'session' in rates:
    ratios = [e / s for e, s in zip(rates['estimator'], rates['session'])]
    parts.append('ratio %.3f' % statistics.median(ratios))
    if len(ratios) > 1:
      parts[-1] += ' (median of %d rounds, %.3f-%.3f)' % (
          len(ratios), min(ratios), max(ratios))
  sgemm = max(gemm)[0]
  line = 'batch %d%s: %s; sgemm %.1f GFLOP/s' % (
      batch_size, '' if round_number is None else ' round %d' % round_number,
      ', '.join(parts), sgemm)
  if training_flops:
    peak = sgemm * 1e9 / training_flops
    line += ', peak %.1f img/s, %s' % (peak, ', '.join(
        '%s at %.0f%% of peak' % (mode, 100.0 * median[mode] / peak)
        for mode in rates))
  return line


def paired_line(batch_size, title, names, first, second, round_number=None):
  """Two session-mode variants of a round, or of all rounds, as one line.

  Args:
    batch_size: int.
    title: what is compared ('LRN').
    names: the two variants' names (('with', 'without')).
    first, second: [images/sec of each round], paired round by round.
    round_number: for a round's line, its number; the rates are its own.

  Returns:
    'batch B round R TITLE: N1 X img/s, N2 Y img/s, ratio X/Y' for a round;
    for all rounds 'batch B TITLE: N1 X img/s, N2 Y img/s (session), ratio
    R (median of N rounds, LO-HI)', X and Y the median rates, R the median
    of the rounds' ratios (the paired figure).
  """
  ratios = [a / b for a, b in zip(first, second)]
  line = 'batch %d%s %s: %s %.1f img/s, %s %.1f img/s' % (
      batch_size, '' if round_number is None else ' round %d' % round_number,
      title, names[0], statistics.median(first), names[1],
      statistics.median(second))
  if round_number is None:
    line += ' (session)'
  line += ', ratio %.3f' % statistics.median(ratios)
  if round_number is None and len(ratios) > 1:
    line += ' (median of %d rounds, %.3f-%.3f)' % (len(ratios), min(ratios),
                                                   max(ratios))
  return line


def lrn_line(batch_size, with_lrn, without_lrn, round_number=None):
  """Training with and without LRN (session mode), as one line.

  paired_line's, titled 'LRN'; the summary of all rounds ends with ': LRN
  takes S% of a step', S = 100 * (1 - ratio): the share of a step's wall
  time that goes away without LRN.
  """
  line = paired_line(batch_size, 'LRN', ('with', 'without'), with_lrn,
                     without_lrn, round_number)
  if round_number is not None:
    return line
  ratio = statistics.median([w / n for w, n in zip(with_lrn, without_lrn)])
  return line + ': LRN takes %.1f%% of a step' % (100.0 * (1.0 - ratio))


def op_type_lines(batch_size, times, implementation, top=TOP_OP_TYPES):
  """Where the step's op time goes, as two lines.

  Args:
    batch_size: int.
    times: benchmarking.OpTimes over the traced steps, scopes LRN_SCOPES.
    implementation: what computes the LRN layers (model_fn
      .lrn_implementation), or None without LRN.
    top: how many op types the first line lists.

  Returns:
    ['batch B op types: TYPE P%, ... (top N of the summed op time of S traced
    steps)', 'batch B LRN ops (lrn1, lrn2, IMPLEMENTATION): P% of the summed
    op time: TYPE P%, ...' (its top N types)]; without LRN, only the first.
  """
  shares = times.shares()
  lines = ['batch %d op types: %s (top %d of the summed op time of %d traced '
           'steps)' % (batch_size, ', '.join(
               '%s %.1f%%' % item for item in shares[:top]), top,
                       times.steps)]
  if implementation is not None:
    lines.append('batch %d LRN ops (%s, %s): %.1f%% of the summed op time: %s'
                 % (batch_size, ', '.join(times.scopes), implementation,
                    times.scoped_share(), ', '.join(
                        '%s %.1f%%' % item
                        for item in times.shares(times.scoped_by_type)[:top])))
  return lines


class _Parser(argparse.ArgumentParser):
  """argparse whose errors are one `benchmark.py: error: ...` line."""

  def error(self, message):
    cli.fail(PROGRAM, message, 2)


def _int_at_least(minimum):
  def _parse(text):
    try:
      value = int(text)
    except ValueError:
      raise argparse.ArgumentTypeError('expected an integer, got %r' % text)
    if value < minimum:
      raise argparse.ArgumentTypeError('must be >= %d, got %d'
                                       % (minimum, value))
    return value
  return _parse


def _list_of(parse_item):
  def _parse(text):
    items = [parse_item(item.strip()) for item in text.split(',')]
    if len(set(items)) != len(items):
      raise argparse.ArgumentTypeError('repeated value in %r' % text)
    return items
  return _parse


def _mode(text):
  if text not in MODES:
    raise argparse.ArgumentTypeError('mode must be one of %s, got %r'
                                     % (', '.join(MODES), text))
  return text


def parse_args(argv=None):
  """Parses the command line; a bad flag exits with one error line."""
  parser = _Parser(prog=PROGRAM, description=__doc__.split('\n')[0])
  positive = _int_at_least(1)
  parser.add_argument('--batch_sizes', type=_list_of(positive),
                      default=[32, 64], help='comma-separated (default '
                      '32,64)')
  parser.add_argument('--image_size', type=positive, default=None,
                      help='input side (default: the recipe\'s, 224 for '
                      'the tutorial)')
  parser.add_argument('--num_classes', type=positive, default=1000)
  parser.add_argument('--steps', type=positive, default=30,
                      help='timed steps per run (default 30)')
  parser.add_argument('--warmup_steps', type=positive, default=5,
                      help='untimed steps before them (default 5)')
  parser.add_argument('--repeats', type=positive, default=4,
                      help='paired rounds per batch size, in alternating '
                      'order; medians are reported (default 4)')
  parser.add_argument('--modes', type=_list_of(_mode),
                      default=list(MODES), help='comma-separated, of %s'
                      % ', '.join(MODES))
  parser.add_argument('--log_every_n_steps', type=positive, default=10,
                      help='Estimator summary and logging cadence (default '
                      '10, the CLI\'s)')
  parser.add_argument('--intra_op', type=_int_at_least(0), default=None,
                      help='intra-op threads (default: TensorFlow\'s)')
  parser.add_argument('--inter_op', type=_int_at_least(0), default=None,
                      help='inter-op threads (default: TensorFlow\'s)')
  parser.add_argument('--gemm_size', type=positive, default=2048,
                      help='side of the square matmul that measures the '
                      'peak (default 2048)')
  parser.add_argument('--gemm_runs', type=positive, default=10,
                      help='matmuls per round, the fastest counts '
                      '(default 10)')
  parser.add_argument('--trace_steps', type=_int_at_least(0), default=3,
                      help='traced steps after each session run, for the '
                      'op-type shares; 0: none (default 3)')
  parser.add_argument('--lrn_implementation',
                      choices=model_fn_lib.LRN_IMPLEMENTATIONS,
                      help='what computes LRN in the timed runs (default: '
                      'what training here uses, model_fn.lrn_implementation'
                      '); other than tf.nn.lrn, it is also timed against '
                      'tf.nn.lrn, paired')
  parser.add_argument('--no_lrn_compare', action='store_true',
                      help='skip the session runs without LRN and with '
                      'tf.nn.lrn')
  parser.add_argument('--sgemm_only', action='store_true',
                      help='print only the sgemm GFLOP/s and exit')
  parser.add_argument('--recipe', choices=params_lib.RECIPE_NAMES)
  parser.add_argument('--data_format', choices=params_lib.DATA_FORMATS)
  parser.add_argument('--optimizer', choices=params_lib.OPTIMIZERS)
  parser.add_argument('--lrn_convention', choices=params_lib.LRN_CONVENTIONS)
  parser.add_argument('--conv_groups', type=int, choices=(1, 2))
  return parser.parse_args(argv)


def _make_params(args, batch_size):
  overrides = {k: getattr(args, k) for k in _PARAM_FLAGS
               if getattr(args, k) is not None}
  try:
    return params_lib.make_params(overrides, batch_size=batch_size)
  except params_lib.ParamError as e:
    cli.fail(PROGRAM, '--%s %s' % (e.key, e.message), 2)


def _threads(value):
  return 'TF default' if not value else str(value)


def _lrn_implementation(params, asked):
  """What computes the network's LRN layers in the timed runs (or None).

  `asked`, or else what training on this CPU uses.
  """
  if model_fn_lib.LRN[params['lrn_convention']] is None:
    return None
  with tf.Graph().as_default():
    return asked or model_fn_lib.lrn_implementation(
        params['lrn_convention'], True, '/cpu:0')


def main(argv=None):
  args = parse_args(argv)
  if args.sgemm_only:
    print('%.3f' % sgemm_gflops(args.gemm_size, args.gemm_runs,
                                session_config(args.intra_op, args.inter_op)))
    return 0
  params = _make_params(args, args.batch_sizes[0])  # flag errors first
  # The CLI logs at INFO: the Estimator's and ProgressHook's lines cost what
  # they cost there (they go to stderr).
  logging.set_verbosity(logging.INFO)
  tf.compat.v1.logging.set_verbosity(tf.compat.v1.logging.INFO)

  layers = forward_flops(params)
  forward = sum(flops for _, flops in layers)
  convs = sum(flops for name, flops in layers if name.startswith('conv'))
  training = TRAINING_FLOPS_FACTOR * forward
  # One config for every session (the first session's thread pools are the
  # process's anyway); making it sets MKL's environment too.
  config = session_config(args.intra_op, args.inter_op)
  print('TensorFlow %s, %d cores, threads intra_op %s inter_op %s; '
        'recipe %s, %s, %d classes; %d timed steps after %d, %d round(s)'
        % (tf.__version__ + (' (MKL)' if distribution.mkl_enabled() else ''),
           os.cpu_count(), _threads(config.intra_op_parallelism_threads),
           _threads(config.inter_op_parallelism_threads) + ''.join(
               ', %s=%s' % (k, os.environ[k]) for k in
               ('OMP_NUM_THREADS', 'KMP_BLOCKTIME') if k in os.environ),
           params['recipe'], params['data_format'],
           params['num_classes'], args.steps, args.warmup_steps,
           args.repeats))
  print('network: forward %.3f GFLOP/image (%d FLOP) at %dx%d: '
        'convolutions %.3f, dense %.3f (LRN, pooling, bias, ReLU, dropout, '
        'softmax not counted); training %dx: %.3f GFLOP/image'
        % (forward / 1e9, forward, params['image_size'], params['image_size'],
           convs / 1e9, (forward - convs) / 1e9, TRAINING_FLOPS_FACTOR,
           training / 1e9))
  print('layers (forward GFLOP): %s' % ', '.join(
      '%s %.3f' % (name, flops / 1e9) for name, flops in layers))
  print('sgemm: %dx%d float32 tf.matmul%s, fastest of %d per round'
        % (args.gemm_size, args.gemm_size,
           ' (and without MKL, the faster counts)'
           if distribution.mkl_enabled() else '', args.gemm_runs))
  implementation = _lrn_implementation(params, args.lrn_implementation)
  if implementation == 'fused' and fused_lrn.load() is None:
    cli.fail(PROGRAM, '--lrn_implementation fused: the fused LRN kernel '
             'cannot be built or loaded here (the warning above says why)', 1)
  compare_lrn = (implementation is not None and not args.no_lrn_compare and
                 'session' in args.modes)
  # Before and after: only where the automatic choice is not tf.nn.lrn.
  compare_tf_nn_lrn = compare_lrn and implementation != 'tf.nn.lrn'
  print('LRN: %s%s' % (
      params['lrn_convention'], ', computed by %s' % implementation
      if implementation else ''))
  sys.stdout.flush()

  modes = [m for m in MODES if m in args.modes]  # printed in this order
  for batch_size in args.batch_sizes:
    params = _make_params(args, batch_size)
    rates = {mode: [] for mode in modes}
    without_lrn = []
    with_tf_nn_lrn = []
    tf_nn_lrn_times = benchmarking.OpTimes(LRN_SCOPES)
    times = benchmarking.OpTimes(LRN_SCOPES)
    gemm = []
    for round_index in range(args.repeats):
      gemm.append(peak_sgemm_gflops(args.gemm_size, args.gemm_runs, config,
                                    args.intra_op, args.inter_op))
      # Session first in rounds 1, 3, ..., estimator first in 2, 4, ...; the
      # runs without LRN and with tf.nn.lrn follow the session one, or come
      # before it, so each pairs with the session run nearest it.
      order = [m for m in ('session', 'no_lrn', 'tf.nn.lrn', 'estimator')
               if m in modes or (m == 'no_lrn' and compare_lrn) or
               (m == 'tf.nn.lrn' and compare_tf_nn_lrn)]
      if round_index % 2:
        order.reverse()
      for mode in order:
        if mode == 'estimator':
          rates[mode].append(estimator_rate(
              params, config, args.warmup_steps, args.steps,
              args.log_every_n_steps))
        elif mode == 'session':
          rate, trace = session_rate(params, config, args.warmup_steps,
                                     args.steps, args.trace_steps,
                                     lrn_implementation=implementation)
          rates[mode].append(rate)
          if trace:
            times.update(trace)
        elif mode == 'no_lrn':
          without_lrn.append(session_rate(
              dict(params, lrn_convention='none'), config, args.warmup_steps,
              args.steps)[0])
        else:
          rate, trace = session_rate(params, config, args.warmup_steps,
                                     args.steps, args.trace_steps,
                                     lrn_implementation='tf.nn.lrn')
          with_tf_nn_lrn.append(rate)
          if trace:
            tf_nn_lrn_times.update(trace)
      print('  ' + summary_line(
          batch_size, {m: rates[m][-1:] for m in order if m in rates},
          gemm[-1:], None, round_index + 1))
      if compare_lrn:
        print('  ' + lrn_line(batch_size, rates['session'][-1:],
                              without_lrn[-1:], round_index + 1))
      if compare_tf_nn_lrn:
        print('  ' + paired_line(
            batch_size, 'LRN %s vs tf.nn.lrn' % implementation,
            (implementation, 'tf.nn.lrn'), rates['session'][-1:],
            with_tf_nn_lrn[-1:], round_index + 1))
      sys.stdout.flush()
    print(summary_line(batch_size, rates, gemm, training))
    if compare_lrn:
      print(lrn_line(batch_size, rates['session'], without_lrn))
    if compare_tf_nn_lrn:
      print(paired_line(batch_size, 'LRN %s vs tf.nn.lrn' % implementation,
                        (implementation, 'tf.nn.lrn'), rates['session'],
                        with_tf_nn_lrn))
    if times.steps:
      for line in op_type_lines(batch_size, times, implementation):
        print(line)
    if tf_nn_lrn_times.steps:  # before: the LRN share with tf.nn.lrn
      print(op_type_lines(batch_size, tf_nn_lrn_times, 'tf.nn.lrn')[1])
    sys.stdout.flush()
  return 0


if __name__ == '__main__':
  sys.exit(main())
