"""Smoke test: the input benchmark runs end to end and prints its figures.

It asserts what is printed, never how fast: speed is for the benchmark itself.
"""
import os
import subprocess
import sys
import unittest

import pytest

SCRIPT = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), 'scripts', 'benchmark_input.py')


@pytest.mark.slow
class BenchmarkInputTest(unittest.TestCase):

  def test_prints_every_figure(self):
    proc = subprocess.run(
        [sys.executable, SCRIPT, '--num_images', '24', '--num_shards', '2',
         '--batch_size', '4', '--batches', '2', '--train_steps', '1'],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        universal_newlines=True, timeout=600)
    self.assertEqual(proc.returncode, 0, proc.stderr[-3000:])
    for label in ('decode \\(ceiling\\)', 'pipeline', 'train, real data',
                  'train, synthetic'):
      self.assertRegex(proc.stdout, r'%s +[0-9.]+ images/sec' % label)
    self.assertRegex(proc.stdout, r'\(\d+% of the ceiling\)')


if __name__ == '__main__':
  unittest.main()
