r"""The demo behind `make demo`: the whole package on generated images.

  python scripts/demo.py --work_dir demo_run

1. writes the demo image set (alexnet_estimator.demo_data) unless it is there;
2. trains and evaluates with the CLI, from a fresh model_dir;
3. evaluates again and checks validation accuracy >= --min_accuracy;
4. predicts one validation image per class;
5. exports a SavedModel and queries it in TF Serving's REST form.

Every step is the command a user would type, printed before it runs. Exits
non-zero if a step fails or the accuracy is below --min_accuracy.
"""
import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import time

from alexnet_estimator import demo_data
from alexnet_estimator import hooks

HERE = os.path.dirname(os.path.abspath(__file__))

# Adam leaves the chance-level plateau of this un-normalised network much
# sooner than the tutorial's SGD; the rate drops 10x for the last 4 epochs so
# that the run ends settled, not wherever the last noisy step left it; see
# docs/recipes.md, "Training the demo".
TRAIN_FLAGS = ['--optimizer', 'adam', '--learning_rate', '1e-4',
               '--batch_size', '16', '--train_epochs', '12',
               '--epochs_between_evals', '4', '--lr_schedule', 'step',
               '--lr_decay_epochs', '8']


def _run(args, capture=False):
  """Runs a command, echoing it; returns its stdout if `capture`."""
  print('\n$ ' + ' '.join(args), flush=True)
  if capture:
    out = subprocess.check_output(args, universal_newlines=True)
    print(out, end='', flush=True)
    return out
  subprocess.check_call(args)
  return None


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--work_dir', default='demo_run')
  parser.add_argument('--min_accuracy', type=float, default=0.9)
  args = parser.parse_args()

  start = time.time()
  data_dir = os.path.join(args.work_dir, 'data')
  model_dir = os.path.join(args.work_dir, 'model')
  export_dir = os.path.join(args.work_dir, 'export')
  if not os.path.isdir(data_dir):
    print('Writing %d demo files under %s' % (
        demo_data.write(data_dir), data_dir))
  for folder in (model_dir, export_dir):
    shutil.rmtree(folder, ignore_errors=True)

  cli = [sys.executable, '-m', 'alexnet_estimator.train']
  _run(cli + ['--data_dir', data_dir, '--model_dir', model_dir] + TRAIN_FLAGS)
  metrics = json.loads(_run(
      cli + ['--mode', 'eval', '--data_dir', data_dir, '--model_dir',
             model_dir], capture=True).strip().splitlines()[-1])

  samples = [sorted(glob.glob(os.path.join(data_dir, 'validation', c, '*')))[0]
             for c in demo_data.CLASSES]
  _run(cli + ['--mode', 'predict', '--model_dir', model_dir] + samples)
  export_path = _run(cli + ['--mode', 'export', '--model_dir', model_dir,
                            '--export_dir', export_dir],
                     capture=True).strip().splitlines()[-1]
  _run([sys.executable, os.path.join(HERE, 'query_export.py'),
        '--export_dir', export_path] + samples)

  print('\nDemo done in %s: validation accuracy %.3f (top-5 %.3f) on %d '
        'images at step %d; SavedModel in %s' % (
            hooks.format_duration(time.time() - start), metrics['accuracy'],
            metrics['accuracy_top_5'], metrics['num_images'],
            metrics['global_step'], export_path))
  if metrics['accuracy'] < args.min_accuracy:
    print('FAILED: validation accuracy %.3f is below %.2f'
          % (metrics['accuracy'], args.min_accuracy), file=sys.stderr)
    return 1
  return 0


if __name__ == '__main__':
  sys.exit(main())
