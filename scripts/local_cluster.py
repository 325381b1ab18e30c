r"""Starts a TensorFlow cluster of separate processes on 127.0.0.1, to try it.

  python scripts/local_cluster.py --num_workers 1 --num_ps 1 -- \
      --data_dir demo_data --model_dir /tmp/cluster_run --mode train_and_eval \
      --max_train_steps 200 --steps_between_evals 50
  python scripts/local_cluster.py --strategy multi_worker_mirrored \
      --num_workers 1 -- --data_dir demo_data --model_dir /tmp/sync_run \
      --mode train_and_eval --max_train_steps 200 --steps_between_evals 50

The launcher is alexnet_estimator/local_cluster.py; see its docstring.
"""
import sys

from alexnet_estimator import local_cluster

if __name__ == '__main__':
  sys.exit(local_cluster.main())
