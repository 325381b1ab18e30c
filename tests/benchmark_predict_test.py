"""Smoke test: the prediction benchmark runs on a tiny model and reports.

It asserts what is printed and that the two ways agree, never how fast: speed
is for the benchmark itself.
"""
import os
import re
import subprocess
import sys
import unittest

import pytest

SCRIPT = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), 'scripts', 'benchmark_predict.py')


def _run(*args):
  return subprocess.run([sys.executable, SCRIPT] + list(args),
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                        universal_newlines=True, timeout=600)


@pytest.mark.slow
class BenchmarkPredictTest(unittest.TestCase):

  def assertBetween(self, value, low, high):
    self.assertTrue(low <= value <= high,
                    '%r not in [%r, %r]' % (value, low, high))

  def test_tiny_model_prints_figures_and_agreement(self):
    proc = _run('--tiny', '--calls', '3', '--image_size', '67',
                '--num_classes', '4')
    self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr[-3000:])
    self.assertIn('67x67, 4 classes', proc.stdout)
    self.assertIn('3 single-image calls each', proc.stdout)
    self.assertRegex(proc.stdout, r'Predictor load \(once\) +[0-9.]+ ms')
    means = {}
    for label in ('Predictor.predict', 'estimator.predict'):
      match = re.search(r'%s +mean +([0-9.]+) ms +median +([0-9.]+) ms +'
                        r'first +([0-9.]+) ms' % re.escape(label),
                        proc.stdout)
      self.assertIsNotNone(match, proc.stdout)
      means[label] = float(match.group(1))
      self.assertGreater(means[label], 0)
    match = re.search(r'speed-up +mean +([0-9.]+)x +median +([0-9.]+)x',
                      proc.stdout)
    self.assertIsNotNone(match, proc.stdout)
    # The speed-up is the ratio of the means, as printed to 0.1.
    slow, fast = means['estimator.predict'], means['Predictor.predict']
    self.assertBetween(float(match.group(1)),
                       (slow - 0.05) / (fast + 0.05) - 0.05,
                       (slow + 0.05) / max(fast - 0.05, 1e-3) + 0.05)
    self.assertRegex(proc.stdout, r'agreement: same class in all 3 calls, '
                     r'probabilities within 1e-05 \(largest difference '
                     r'[0-9.e+-]+\)')
    self.assertNotIn('DISAGREEMENT', proc.stdout)

  def test_model_dir_without_a_model_fails_in_one_line(self):
    folder = os.path.dirname(SCRIPT)  # exists, holds no model
    proc = _run('--model_dir', folder, '--calls', '1')
    self.assertEqual(proc.returncode, 2, proc.stdout + proc.stderr[-3000:])
    last = proc.stderr.strip().splitlines()[-1]
    self.assertTrue(last.startswith('benchmark_predict.py: error: '), last)
    self.assertIn(folder, last)

  def test_help(self):
    proc = _run('--help')
    self.assertEqual(proc.returncode, 0, proc.stderr)
    for flag in ('--model_dir', '--tiny', '--image', '--calls'):
      self.assertIn(flag, proc.stdout)


if __name__ == '__main__':
  unittest.main()
