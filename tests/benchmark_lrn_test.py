"""Smoke test: the LRN benchmark runs and prints consistent figures.

It asserts what is printed, never how fast: speed is for the benchmark itself.
"""
import os
import re
import statistics
import subprocess
import sys
import unittest

import pytest

SCRIPT = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), 'scripts', 'benchmark_lrn.py')
_MS = r'([0-9.]+) ms'


@pytest.mark.slow
class BenchmarkLrnTest(unittest.TestCase):

  def test_prints_both_implementations_paired(self):
    proc = subprocess.run(
        [sys.executable, SCRIPT, '--batch_size', '2', '--image_size', '67',
         '--steps', '1', '--warmup_steps', '1', '--repeats', '2'],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        universal_newlines=True, timeout=600)
    self.assertEqual(proc.returncode, 0, proc.stderr[-3000:])
    # The layers' inputs at 67: conv1 15x15x96, conv2 7x7x256.
    self.assertIn('on 2x15x15x96 and 2x7x7x256', proc.stdout)
    rounds = re.findall(r'(?m)^  round (\d): tf.nn.lrn %s, fused %s$'
                        % (_MS, _MS), proc.stdout)
    self.assertEqual([r[0] for r in rounds], ['1', '2'], proc.stdout)
    summary = re.search(
        r'(?m)^per step: tf.nn.lrn %s, fused %s; tf.nn.lrn / fused '
        r'([0-9.]+) \(median of 2 rounds, ([0-9.]+)-([0-9.]+)\)$'
        % (_MS, _MS), proc.stdout)
    self.assertIsNotNone(summary, proc.stdout)
    for column, index in ((1, 0), (2, 1)):
      self.assertAlmostEqual(
          float(summary.group(index + 1)),
          statistics.median(float(r[column]) for r in rounds), delta=0.1)
    # The ratio is of the unrounded times: at this size a time is about 1
    # ms, so the printed 0.1 ms rounding moves it by up to 0.05 / time.
    ratios = [float(r[1]) / float(r[2]) for r in rounds]
    slack = max(ratio * (0.05 / float(r[1]) + 0.05 / float(r[2]))
                for ratio, r in zip(ratios, rounds))
    self.assertAlmostEqual(float(summary.group(3)), statistics.median(ratios),
                           delta=slack + 0.005)


if __name__ == '__main__':
  unittest.main()
