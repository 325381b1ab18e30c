"""Tests of scripts/benchmark.py (alexnet_estimator.train_benchmark): its
output, its FLOP count, its op traces and its flags.

It asserts what is printed and that the figures agree with each other, never
how fast: speed is for the benchmark itself, on a quiet machine.
"""
import contextlib
import io
import os
import re
import subprocess
import sys
import unittest

import pytest
import tensorflow as tf
from tensorflow.core.framework import step_stats_pb2

from alexnet_estimator import benchmarking
from alexnet_estimator import model_fn as model_fn_lib
from alexnet_estimator import params as params_lib
from alexnet_estimator import train_benchmark

SCRIPT = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), 'scripts', 'benchmark.py')

_NUMBER = r'([0-9]+(?:\.[0-9]+)?)'
BATCH_LINE = re.compile(
    r'^batch (\d+): estimator %s img/s, session %s img/s, ratio %s'
    r' \(median of 2 rounds, %s-%s\); '
    r'sgemm %s GFLOP/s, peak %s img/s, estimator at (\d+)%% of peak, '
    r'session at (\d+)%% of peak$' % ((_NUMBER,) * 7), re.MULTILINE)
ROUND_LINE = re.compile(
    r'^  batch 4 round (\d): (\w+) %s img/s, (\w+) %s img/s, ratio %s; '
    r'sgemm %s GFLOP/s$' % ((_NUMBER,) * 4), re.MULTILINE)
LRN_ROUND_LINE = re.compile(
    r'^  batch 4 round (\d) LRN: with %s img/s, without %s img/s, ratio %s$'
    % ((_NUMBER,) * 3), re.MULTILINE)
LRN_LINE = re.compile(
    r'^batch 4 LRN: with %s img/s, without %s img/s \(session\), ratio %s '
    r'\(median of 2 rounds, %s-%s\): LRN takes (-?[0-9.]+)%% of a step$'
    % ((_NUMBER,) * 5), re.MULTILINE)
BEFORE_AFTER_ROUND_LINE = re.compile(
    r'^  batch 4 round (\d) LRN fused vs tf.nn.lrn: fused %s img/s, '
    r'tf.nn.lrn %s img/s, ratio %s$' % ((_NUMBER,) * 3), re.MULTILINE)
BEFORE_AFTER_LINE = re.compile(
    r'^batch 4 LRN fused vs tf.nn.lrn: fused %s img/s, tf.nn.lrn %s img/s '
    r'\(session\), ratio %s \(median of 2 rounds, %s-%s\)$'
    % ((_NUMBER,) * 5), re.MULTILINE)
OP_TYPES_LINE = re.compile(
    r'^batch 4 op types: (.*) \(top 8 of the summed op time of (\d+) traced '
    r'steps\)$', re.MULTILINE)
LRN_OPS_LINE = re.compile(
    r'^batch 4 LRN ops \(lrn1, lrn2, ([\w.]+)\): %s%% of the summed op time: '
    r'(.*)$' % _NUMBER, re.MULTILINE)
NETWORK_LINE = re.compile(
    r'^network: forward %s GFLOP/image \((\d+) FLOP\) at (\d+)x\d+: .*'
    r'training 3x: %s GFLOP/image$' % (_NUMBER, _NUMBER), re.MULTILINE)


def _run(*args):
  return subprocess.run([sys.executable, SCRIPT] + list(args),
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                        universal_newlines=True, timeout=600)


def _shares(listed):
  """[(op type, share)] of 'TYPE P%, TYPE P%, ...'."""
  return [(kind, float(share)) for kind, share in
          re.findall(r'([\w.]+) ([0-9.]+)%', listed)]


def _valid(side, kernel, stride):
  return (side - kernel) // stride + 1


def hand_count(image_size, num_classes, groups=1):
  """Forward FLOPs per layer, by hand from model_fn's docstring table.

    conv1 96x11x11/4 VALID -> pool1 3x3/2 VALID
    conv2 256x5x5 SAME     -> pool2 3x3/2 VALID
    conv3 384x3x3 SAME, conv4 384x3x3 SAME, conv5 256x3x3 SAME
    -> pool3 3x3/2 VALID -> flatten -> dense1 4096, dense2 4096, logits

  A convolution is 2*K*K*Cin*Cout*Hout*Wout; with `groups` (conv2, conv4,
  conv5 under the paper's recipe) each output sees Cin/groups inputs. Stride
  1 SAME keeps the side.
  """
  side = _valid(image_size, 11, 4)
  flops = {'conv1': 2 * 11 * 11 * 3 * 96 * side * side}
  side = _valid(side, 3, 2)
  flops['conv2'] = 2 * 5 * 5 * (96 // groups) * 256 * side * side
  side = _valid(side, 3, 2)
  flops['conv3'] = 2 * 3 * 3 * 256 * 384 * side * side
  flops['conv4'] = 2 * 3 * 3 * (384 // groups) * 384 * side * side
  flops['conv5'] = 2 * 3 * 3 * (384 // groups) * 256 * side * side
  side = _valid(side, 3, 2)
  flops['dense1'] = 2 * side * side * 256 * 4096
  flops['dense2'] = 2 * 4096 * 4096
  flops['logits'] = 2 * 4096 * num_classes
  return flops


class ForwardFlopsTest(unittest.TestCase):

  def test_tutorial_network_at_224(self):
    layers = train_benchmark.forward_flops(params_lib.make_params())
    self.assertEqual(dict(layers), hand_count(224, 1000))
    self.assertEqual([name for name, _ in layers],
                     ['conv1', 'conv2', 'conv3', 'conv4', 'conv5', 'dense1',
                      'dense2', 'logits'])
    total = sum(flops for _, flops in layers)
    self.assertEqual(total, 2019891456)  # the "2.02 GFLOP"
    self.assertAlmostEqual(total / 1e9, 2.02, places=2)

  def test_layout_does_not_change_the_count(self):
    layers = train_benchmark.forward_flops(
        params_lib.make_params(data_format='channels_first'))
    self.assertEqual(dict(layers), hand_count(224, 1000))

  def test_paper_network_counts_groups(self):
    layers = train_benchmark.forward_flops(
        params_lib.make_params(recipe='paper'))  # 227, two groups
    self.assertEqual(dict(layers), hand_count(227, 1000, groups=2))
    self.assertEqual(sum(flops for _, flops in layers), 1448813632)


@pytest.mark.slow
class BenchmarkScriptTest(unittest.TestCase):

  def test_prints_consistent_figures(self):
    # The tutorial's LRN: the fused kernel on both builds, so the paired
    # runs against tf.nn.lrn are printed too.
    proc = _run('--image_size', '67', '--batch_sizes', '4', '--steps', '2',
                '--warmup_steps', '1', '--repeats', '2', '--num_classes',
                '10', '--gemm_size', '256', '--gemm_runs', '2')
    self.assertEqual(proc.returncode, 0, proc.stderr[-3000:])
    network = NETWORK_LINE.search(proc.stdout)
    self.assertIsNotNone(network, proc.stdout)
    forward = int(network.group(2))
    self.assertEqual(forward, sum(hand_count(67, 10).values()))
    self.assertEqual(int(network.group(3)), 67)
    self.assertAlmostEqual(float(network.group(4)), 3 * forward / 1e9,
                           places=3)

    rounds = ROUND_LINE.findall(proc.stdout)
    self.assertEqual(len(rounds), 2, proc.stdout)
    ratios, sgemms, rates = [], [], {'estimator': [], 'session': []}
    for number, first, first_rate, second, second_rate, ratio, sgemm in (
        rounds):
      # Alternating order: the session first in round 1, last in round 2.
      self.assertEqual([first, second], ['session', 'estimator']
                       if number == '1' else ['estimator', 'session'])
      rates[first].append(float(first_rate))
      rates[second].append(float(second_rate))
      self.assertAlmostEqual(float(ratio), rates['estimator'][-1] /
                             rates['session'][-1], delta=0.01)
      ratios.append(float(ratio))
      sgemms.append(float(sgemm))

    lines = BATCH_LINE.findall(proc.stdout)
    self.assertEqual(len(lines), 1, proc.stdout)
    (batch, estimator, session, ratio, low, high, sgemm, peak, est_pct,
     sess_pct) = [float(x) for x in lines[0]]
    self.assertEqual(batch, 4)
    for value in (estimator, session, ratio, sgemm, peak):
      self.assertGreater(value, 0)
    # The summary follows from the rounds (up to rounding): medians of two
    # are means; the ratio is the rounds' (paired), the sgemm the best.
    self.assertAlmostEqual(estimator, sum(rates['estimator']) / 2, delta=0.1)
    self.assertAlmostEqual(session, sum(rates['session']) / 2, delta=0.1)
    self.assertAlmostEqual(ratio, sum(ratios) / 2, delta=0.002)
    self.assertEqual((low, high), (min(ratios), max(ratios)))
    self.assertEqual(sgemm, max(sgemms))
    self.assertAlmostEqual(peak, sgemm * 1e9 / (3 * forward), delta=0.2)
    self.assertAlmostEqual(est_pct, 100 * estimator / peak, delta=1.0)
    self.assertAlmostEqual(sess_pct, 100 * session / peak, delta=1.0)

    # With and without LRN: each round pairs the session run with one of
    # the same network without LRN, and the summary follows from them.
    implementation = re.search(r'(?m)^LRN: tutorial, computed by (\S+)$',
                               proc.stdout).group(1)
    lrn_rounds = LRN_ROUND_LINE.findall(proc.stdout)
    self.assertEqual([r[0] for r in lrn_rounds], ['1', '2'], proc.stdout)
    self.assertEqual([float(r[1]) for r in lrn_rounds], rates['session'])
    lrn_ratios = []
    for _, with_lrn, without_lrn, lrn_ratio in lrn_rounds:
      self.assertAlmostEqual(float(lrn_ratio),
                             float(with_lrn) / float(without_lrn), delta=0.01)
      lrn_ratios.append(float(lrn_ratio))
    lines = LRN_LINE.findall(proc.stdout)
    self.assertEqual(len(lines), 1, proc.stdout)
    with_lrn, without_lrn, lrn_ratio, low, high, takes = [
        float(x) for x in lines[0]]
    self.assertAlmostEqual(with_lrn, session, delta=0.1)
    self.assertAlmostEqual(lrn_ratio, sum(lrn_ratios) / 2, delta=0.002)
    self.assertEqual((low, high), (min(lrn_ratios), max(lrn_ratios)))
    self.assertAlmostEqual(takes, 100 * (1 - lrn_ratio), delta=0.1)

    # Op types of the traced steps: 3 per session run, two rounds.
    op_types = OP_TYPES_LINE.findall(proc.stdout)
    self.assertEqual(len(op_types), 1, proc.stdout)
    shares = _shares(op_types[0][0])
    self.assertEqual(len(shares), 8, op_types)
    self.assertEqual(int(op_types[0][1]), 6)
    values = [share for _, share in shares]
    self.assertEqual(values, sorted(values, reverse=True))
    self.assertLessEqual(sum(values), 100.1)
    lrn_ops = LRN_OPS_LINE.findall(proc.stdout)
    # The second, of the runs with tf.nn.lrn, where those run.
    self.assertEqual([line[0] for line in lrn_ops], [implementation] + (
        ['tf.nn.lrn'] if implementation != 'tf.nn.lrn' else []), proc.stdout)
    _, lrn_share, listed = lrn_ops[0]
    self.assertGreater(float(lrn_share), 0)
    self.assertLessEqual(sum(share for _, share in _shares(listed)),
                         float(lrn_share) + 0.1)

    # Before and after, where the LRN is not tf.nn.lrn: the automatic
    # choice, training's.
    before_after = BEFORE_AFTER_ROUND_LINE.findall(proc.stdout)
    summary = BEFORE_AFTER_LINE.findall(proc.stdout)
    self.assertEqual(implementation, 'fused', proc.stdout)
    self.assertEqual([r[0] for r in before_after], ['1', '2'], proc.stdout)
    self.assertEqual([float(r[1]) for r in before_after], rates['session'])
    ratios = [float(r[3]) for r in before_after]
    self.assertEqual(len(summary), 1, proc.stdout)
    self.assertAlmostEqual(float(summary[0][2]), sum(ratios) / 2,
                           delta=0.002)

  def test_no_lrn_compare_and_no_trace(self):
    proc = _run('--image_size', '67', '--batch_sizes', '2', '--steps', '1',
                '--warmup_steps', '1', '--repeats', '1', '--num_classes',
                '10', '--gemm_size', '64', '--gemm_runs', '1', '--modes',
                'session', '--no_lrn_compare', '--trace_steps', '0')
    self.assertEqual(proc.returncode, 0, proc.stderr[-3000:])
    self.assertRegex(proc.stdout, r'(?m)^batch 2: session [0-9.]+ img/s;')
    for absent in (' LRN: with', 'op types', 'LRN ops'):
      self.assertNotIn(absent, proc.stdout)

  def test_help(self):
    proc = _run('--help')
    self.assertEqual(proc.returncode, 0, proc.stderr[-3000:])
    for flag in ('--batch_sizes', '--image_size', '--steps', '--warmup_steps',
                 '--modes', '--intra_op', '--inter_op', '--data_format'):
      self.assertIn(flag, proc.stdout)

  def test_bad_flags_fail_with_one_line(self):
    for args, message in ((['--bogus'], 'unrecognized arguments: --bogus'),
                          (['--batch_sizes', '32,0'], 'must be >= 1'),
                          (['--image_size', '50'], '--image_size must be')):
      proc = _run(*args)
      self.assertEqual(proc.returncode, 2, args)
      self.assertEqual(proc.stdout, '', args)
      lines = proc.stderr.strip().split('\n')
      self.assertEqual(len(lines), 1, proc.stderr)
      self.assertTrue(lines[0].startswith('benchmark.py: error: '), lines[0])
      self.assertIn(message, lines[0])


class SummaryLineTest(unittest.TestCase):

  def test_ratio_is_the_median_of_paired_rounds(self):
    # The machine got faster over three rounds; each round's pair agrees
    # closely, though the ratio of the median rates (18/20) does not.
    rates = {'estimator': [10.0, 18.0, 30.0], 'session': [10.0, 20.0, 30.3]}
    line = train_benchmark.summary_line(
        32, rates, [(100.0, 'a'), (200.0, 'b'), (150.0, 'c')], 2e9)
    self.assertEqual(
        line, 'batch 32: estimator 18.0 img/s, session 20.0 img/s, ratio '
        '0.990 (median of 3 rounds, 0.900-1.000); sgemm 200.0 GFLOP/s, '
        'peak 100.0 img/s, estimator at 18% of peak, session at 20% of peak')

  def test_round_line_and_one_mode(self):
    line = train_benchmark.summary_line(
        64, {'estimator': [12.0], 'session': [15.0]}, [(90.0, 'a')], None, 3)
    self.assertEqual(line, 'batch 64 round 3: estimator 12.0 img/s, session '
                     '15.0 img/s, ratio 0.800; sgemm 90.0 GFLOP/s')
    line = train_benchmark.summary_line(64, {'session': [15.0, 17.0]},
                                        [(90.0, 'a')], 9e9)
    self.assertEqual(line, 'batch 64: session 16.0 img/s; sgemm 90.0 GFLOP/s,'
                     ' peak 10.0 img/s, session at 160% of peak')


class LrnLineTest(unittest.TestCase):

  def test_paired_line(self):
    self.assertEqual(
        train_benchmark.paired_line(64, 'LRN fused vs tf.nn.lrn',
                                    ('fused', 'tf.nn.lrn'), [21.0], [20.0],
                                    1),
        'batch 64 round 1 LRN fused vs tf.nn.lrn: fused 21.0 img/s, '
        'tf.nn.lrn 20.0 img/s, ratio 1.050')
    self.assertEqual(
        train_benchmark.paired_line(64, 'X', ('a', 'b'), [21.0, 30.0],
                                    [20.0, 25.0]),
        'batch 64 X: a 25.5 img/s, b 22.5 img/s (session), ratio 1.125 '
        '(median of 2 rounds, 1.050-1.200)')

  def test_round_and_summary(self):
    self.assertEqual(
        train_benchmark.lrn_line(32, [18.0], [20.0], 2),
        'batch 32 round 2 LRN: with 18.0 img/s, without 20.0 img/s, '
        'ratio 0.900')
    # Paired: the median of the rounds' ratios, not of the median rates.
    self.assertEqual(
        train_benchmark.lrn_line(32, [10.0, 18.0, 30.0], [10.0, 20.0, 40.0]),
        'batch 32 LRN: with 18.0 img/s, without 20.0 img/s (session), ratio '
        '0.900 (median of 3 rounds, 0.750-1.000): LRN takes 10.0% of a step')


def _node(name, kind, micros, start=100):
  """A trace record as TensorFlow writes one: 'name = Type(inputs)'."""
  return step_stats_pb2.NodeExecStats(
      node_name=name, timeline_label='%s = %s(x, y)' % (name, kind),
      op_start_rel_micros=start, op_end_rel_micros=start + micros)


def _metadata(devices):
  """A tf.RunMetadata of {device name: [NodeExecStats]}."""
  metadata = tf.RunMetadata()
  for device, nodes in devices.items():
    metadata.step_stats.dev_stats.add(device=device, node_stats=nodes)
  return metadata


class OpTimesTest(unittest.TestCase):

  CPU = '/job:localhost/replica:0/task:0/device:CPU:0'

  def test_op_type_and_scopes(self):
    self.assertEqual(benchmarking.op_type(
        _node('gradients/lrn1/LRN_grad/LRNGrad', 'LRNGrad', 1)), 'LRNGrad')
    # A record without a label: 'name:Type'.
    unlabelled = step_stats_pb2.NodeExecStats(
        node_name='conv1/Conv2D:_MklConv2D')
    self.assertEqual(benchmarking.op_type(unlabelled), '_MklConv2D')
    scopes = ('lrn1', 'lrn2')
    for name in ('lrn1/LRN', 'lrn2/Conv2D', 'tower/lrn2/mul',
                 'gradients/lrn1/IdentityN_grad/mul'):
      self.assertTrue(benchmarking.in_scopes(name, scopes), name)
    for name in ('lrn1', 'lrn10/LRN', 'conv1/lrn1x', 'pool1/MaxPool',
                 'Mkl2Tf/_5'):
      self.assertFalse(benchmarking.in_scopes(name, scopes), name)

  def test_sums_by_type_and_scope_over_steps(self):
    times = benchmarking.OpTimes(('lrn1', 'lrn2'))
    step = _metadata({
        self.CPU: [_node('conv1/Conv2D', 'Conv2D', 600),
                   _node('lrn1/LRN', 'LRN', 100),
                   _node('gradients/lrn1/LRN_grad/LRNGrad', 'LRNGrad', 200),
                   _node('lrn2/mul', 'Mul', 50),
                   _node('dense1/mul', 'Mul', 50)],
        # Kernel-level repeats of the same ops: not counted again.
        '/host:CPU': [_node('conv1/Conv2D', 'Conv2D', 600)],
        self.CPU + '/stream:all': [_node('lrn1/LRN', 'LRN', 100)],
    })
    times.add(step)
    times.add(step)
    self.assertEqual(times.steps, 2)
    self.assertEqual(times.total, 2000)
    self.assertEqual(times.shares(), [('Conv2D', 60.0), ('LRNGrad', 20.0),
                                      ('LRN', 10.0), ('Mul', 10.0)])
    self.assertEqual(times.scoped_share(), 35.0)
    self.assertEqual(times.shares(times.scoped_by_type),
                     [('LRNGrad', 20.0), ('LRN', 10.0), ('Mul', 5.0)])
    other = benchmarking.OpTimes(('lrn1', 'lrn2'))
    other.add(_metadata({self.CPU: [_node('conv1/Conv2D', 'Conv2D', 2000)]}))
    times.update(other)
    self.assertEqual((times.steps, times.total), (3, 4000))
    self.assertEqual(times.scoped_share(), 17.5)

  def test_op_type_lines(self):
    times = benchmarking.OpTimes(('lrn1', 'lrn2'))
    times.add(_metadata({self.CPU: [
        _node('conv%d/Conv2D' % i, 'Type%d' % i, 150 - 10 * i)
        for i in range(9)] + [_node('lrn1/mul', 'Mul', 10)]}))
    lines = train_benchmark.op_type_lines(32, times, 'fused')
    self.assertEqual(lines, [
        'batch 32 op types: Type0 15.0%, Type1 14.0%, Type2 13.0%, Type3 '
        '12.0%, Type4 11.0%, Type5 10.0%, Type6 9.0%, Type7 8.0% (top 8 of '
        'the summed op time of 1 traced steps)',
        'batch 32 LRN ops (lrn1, lrn2, fused): 1.0% of the summed op time: '
        'Mul 1.0%'])
    self.assertEqual(train_benchmark.op_type_lines(32, times, None),
                     lines[:1])


class TinyTraceTest(tf.test.TestCase):
  """A real trace of the training step at 67x67, batch 2."""

  def test_lrn_ops_forward_and_backward_are_in_their_scopes(self):
    params = params_lib.make_params(image_size=67, num_classes=5,
                                    batch_size=2)
    config = train_benchmark.session_config(None, None)
    rate, times = train_benchmark.session_rate(params, config, 1, 1,
                                               trace_steps=2)
    self.assertGreater(rate, 0)
    self.assertEqual(times.steps, 2)
    self.assertGreater(times.scoped_share(), 0)
    self.assertLess(times.scoped_share(), 100)
    self.assertAlmostEqual(sum(share for _, share in times.shares()), 100.0,
                           places=3)
    # The LRN ops' types are types of the step, no larger there.
    for kind, micros in times.scoped_by_type.items():
      self.assertLessEqual(micros, times.by_type[kind], kind)
    # Both layers, forward and gradient, whatever computes them.
    with tf.Graph().as_default() as graph:
      tf.train.get_or_create_global_step()
      images = tf.random.uniform([2, 67, 67, 3])
      spec = model_fn_lib.model_fn(images, tf.zeros([2], tf.int32),
                                   tf.estimator.ModeKeys.TRAIN, params)
      with self.session(graph=graph) as sess:
        sess.run(tf.global_variables_initializer())
        metadata = tf.RunMetadata()
        sess.run(spec.train_op, options=tf.RunOptions(
            trace_level=tf.RunOptions.FULL_TRACE), run_metadata=metadata)
    traced = set()
    for device in metadata.step_stats.dev_stats:
      for node in device.node_stats:
        for scope in ('lrn1', 'lrn2'):
          if benchmarking.in_scopes(node.node_name, (scope,)):
            traced.add((scope, node.node_name.startswith('gradients/')))
    self.assertEqual(traced, {('lrn1', False), ('lrn1', True),
                              ('lrn2', False), ('lrn2', True)})

  def test_each_implementation_can_be_traced(self):
    params = params_lib.make_params(image_size=67, num_classes=5,
                                    batch_size=2)
    config = train_benchmark.session_config(None, None)
    kinds = {}
    for name in model_fn_lib.LRN_IMPLEMENTATIONS:
      _, times = train_benchmark.session_rate(params, config, 1, 1, 1,
                                              lrn_implementation=name)
      kinds[name] = set(times.scoped_by_type)
    # tf.nn.lrn is LRN and LRNGrad (MKL-DNN's own for depth_radius 2 only);
    # the fused one its own two ops.
    self.assertTrue({'LRN', 'LRNGrad'} <= kinds['tf.nn.lrn'], kinds)
    self.assertTrue({'AlexnetLRN', 'AlexnetLRNGrad'} <= kinds['fused'], kinds)
    self.assertFalse(kinds['fused'] & {'LRN', 'LRNGrad'}, kinds)


class ParseArgsTest(unittest.TestCase):

  def test_defaults(self):
    args = train_benchmark.parse_args([])
    self.assertEqual(args.batch_sizes, [32, 64])
    self.assertEqual(args.modes, ['estimator', 'session'])
    self.assertEqual(args.repeats, 4)
    self.assertIsNone(args.image_size)  # the recipe's: 224 for the tutorial
    self.assertIsNone(args.intra_op)
    self.assertIsNone(args.inter_op)
    self.assertEqual(args.trace_steps, 3)
    self.assertFalse(args.no_lrn_compare)

  def test_lists_and_modes(self):
    args = train_benchmark.parse_args(['--batch_sizes', '8, 16', '--modes',
                                       'session', '--intra_op', '2'])
    self.assertEqual(args.batch_sizes, [8, 16])
    self.assertEqual(args.modes, ['session'])
    self.assertEqual(args.intra_op, 2)
    with contextlib.redirect_stderr(io.StringIO()) as err:
      with self.assertRaises(SystemExit):
        train_benchmark.parse_args(['--modes', 'estimator,keras'])
    self.assertIn("mode must be one of estimator, session, got 'keras'",
                  err.getvalue())

  def test_session_config_has_the_threads(self):
    config = train_benchmark.session_config(2, 1)
    self.assertEqual(config.intra_op_parallelism_threads, 2)
    self.assertEqual(config.inter_op_parallelism_threads, 1)
    self.assertTrue(config.allow_soft_placement)  # make_run_config's


if __name__ == '__main__':
  unittest.main()
