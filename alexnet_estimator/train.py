r"""Trains, evaluates, predicts with and exports AlexNet on tf.estimator.

  python -m alexnet_estimator.train --data_dir DATA --model_dir RUN
  python -m alexnet_estimator.train --mode eval --data_dir DATA --model_dir RUN
  python -m alexnet_estimator.train --mode predict --model_dir RUN IMAGE_OR_DIR...
  python -m alexnet_estimator.train --mode export --model_dir RUN --export_dir OUT

DATA is a class-per-folder image tree: DATA/train/<class>/* with
DATA/validation/<class>/* (or val/), or DATA/<class>/* split deterministically;
or TFRecord shards (train-*, validation-*).
--recipe paper trains as Krizhevsky et al. 2012 did instead of as the tutorial
does (grouped convs, paper LRN, momentum, weight decay, plateau schedule, paper
augmentation, 10-crop evaluation); the other hyper-parameter flags change
single pieces. --warm_start_from fine-tunes a trained run for new classes.
--num_gpus/--distribution_strategy spread training over devices; with
TF_CONFIG (or --worker_hosts, --ps_hosts, --task_type, --task_index) the
process is one task of a cluster (scripts/local_cluster.py starts one here).
--mode eval prints its metrics as one JSON object on the last line of stdout;
--mode predict prints one JSON object per image; --mode export prints the
SavedModel's path. Rerunning a training run resumes from its last checkpoint.
Exit codes: 0 done; 1 the data, --model_dir or the system (permission, disk
full, a corrupt file) failed the run; 2 a flag or argument is wrong; 3 training
diverged (NaN or inf loss); 130/143 interrupted by SIGINT/SIGTERM after saving
a checkpoint; 141 stdout was closed. Failures are one line; --debug shows the
traceback.
"""
import collections
import json
import os
import sys

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '1')  # hide C++ start-up INFO

# pylint: disable=g-import-not-at-top
from absl import flags
from absl import logging

from alexnet_estimator import cli
from alexnet_estimator import cluster
from alexnet_estimator import distribution
from alexnet_estimator import errors
from alexnet_estimator import estimator as estimator_lib
from alexnet_estimator import export as export_lib
from alexnet_estimator import files
from alexnet_estimator import flags as flags_lib
from alexnet_estimator import log
from alexnet_estimator import params as params_lib
from alexnet_estimator import predict_output
from alexnet_estimator import run_loop
from alexnet_estimator import spec as spec_lib

FLAGS = flags.FLAGS
PROGRAM = 'alexnet_estimator.train'

Options = spec_lib.Options
# What run() did: the metrics of the last evaluation (eval, train_and_eval)
# and the SavedModel's path (export, or training with --export_dir); None
# where the mode has none.
RunResult = collections.namedtuple('RunResult', ['metrics', 'export_path'])


def run(options, out=None):
  """Runs one mode of the command line with plain values; reads no flag.

  Args:
    options: a spec.Options (train.Options).
    out: stream for the results (default sys.stdout): eval's metrics JSON,
      predict's JSON lines, the export path.

  Returns:
    A RunResult.

  Raises:
    errors.Error: the run cannot start (nothing was written) or the data or
      model_dir failed it on the way.
  """
  out = out or sys.stdout
  spec = spec_lib.resolve(options)
  o = spec.options
  # Every check has passed: from here on the run may write.
  if spec.data is not None:
    logging.info('%s.', spec.data.description)
  if spec.tf_config is not None:
    os.environ['TF_CONFIG'] = json.dumps(spec.tf_config)
  if spec.task is not None:
    logging.info('Cluster task %s %d of %s.', spec.task.type, spec.task.index,
                 json.dumps(spec.task.cluster, sort_keys=True))
  distribution.set_gpu_thread_mode(spec.devices.gpu_thread_mode,
                                   spec.devices.num_gpus)
  metrics = export_path = None
  if o.mode == 'predict':
    predict_output.predict(estimator_lib.make_estimator(o.model_dir,
                                                        spec.params),
                           spec.params, o.predict_paths, out, o.gallery,
                           spec.eval_skipped)
  elif o.mode == 'eval':
    metrics = run_loop.evaluate_once(spec)
  elif spec.task is not None:
    run_loop.train_in_cluster(spec)
  elif o.mode != 'export':
    metrics = run_loop.train(spec)
  exports = o.mode == 'export' or (
      o.export_dir and o.mode in ('train', 'train_and_eval') and
      (spec.task is None or spec.task.type == 'chief'))
  if exports:
    export_path = export_lib.export(o.model_dir, spec.params, o.export_dir)
    print(export_path, file=out)
  if metrics is not None:
    print(files.json_line(metrics), file=out)
  return RunResult(metrics, export_path)


def options_from_flags(argv):
  """The Options the parsed FLAGS and positional `argv` describe.

  Raises:
    errors.UsageError: the cluster flags do not describe a task.
  """
  tf_config = None
  if FLAGS.task_type or FLAGS.worker_hosts:
    if not FLAGS.task_type:
      raise errors.UsageError('--worker_hosts needs --task_type')
    try:
      tf_config = cluster.tf_config_from_flags(
          FLAGS.worker_hosts, FLAGS.ps_hosts, FLAGS.task_type,
          FLAGS.task_index)
    except cluster.ClusterError as e:
      raise errors.UsageError(str(e))
  values = {name: FLAGS[name].value for name in Options._fields
            if name in FLAGS}
  values.update(
      predict_paths=tuple(argv[1:]), tf_config=tf_config,
      overrides={k: FLAGS[k].value for k in params_lib.TUNABLE})
  return Options(**values)


def main(argv):
  log.quiet(verbose=FLAGS.debug or FLAGS.verbosity > 0)
  cli.guard(PROGRAM, lambda: run(options_from_flags(argv)), FLAGS.debug)


def console_main():
  """Entry point of `python -m alexnet_estimator.train` and the console script."""
  flags_lib.define_train_flags()
  cli.run(main, __name__, PROGRAM)


if __name__ == '__main__':
  console_main()
