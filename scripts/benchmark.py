r"""Training benchmark: Estimator vs plain tf.Session, and share of CPU peak.

  python scripts/benchmark.py [--batch_sizes 32,64] [--steps 30]

The benchmark is alexnet_estimator/train_benchmark.py: see its docstring, or
--help, for what it measures and prints.
"""
import os
import sys

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '1')  # before TF loads

# pylint: disable=g-import-not-at-top,wrong-import-position
from alexnet_estimator import train_benchmark

if __name__ == '__main__':
  sys.exit(train_benchmark.main())
