"""Tests of scripts/benchmark.py (alexnet_estimator.train_benchmark): its
output, its FLOP count and its flags.

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
NETWORK_LINE = re.compile(
    r'^network: forward %s GFLOP/image \((\d+) FLOP\) at (\d+)x\d+: .*'
    r'training 3x: %s GFLOP/image$' % (_NUMBER, _NUMBER), re.MULTILINE)


def _run(*args):
  return subprocess.run([sys.executable, SCRIPT] + list(args),
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                        universal_newlines=True, timeout=600)


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


class ParseArgsTest(unittest.TestCase):

  def test_defaults(self):
    args = train_benchmark.parse_args([])
    self.assertEqual(args.batch_sizes, [32, 64])
    self.assertEqual(args.modes, ['estimator', 'session'])
    self.assertEqual(args.repeats, 4)
    self.assertIsNone(args.image_size)  # the recipe's: 224 for the tutorial
    self.assertIsNone(args.intra_op)
    self.assertIsNone(args.inter_op)

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
