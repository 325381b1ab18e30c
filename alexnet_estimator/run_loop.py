"""Train and evaluate cycles, on one machine or as a task of a cluster.

Each function takes a resolved spec.Spec (plain values, no flags). `train`
runs cycles of training to the next evaluation on one machine, feeding the
evaluations to the plateau schedule and early stopping; `train_in_cluster`
runs this process's task through tf.estimator.train_and_evaluate;
`evaluate_once` evaluates once.

What a run guarantees on the way: a step whose loss or gradients are not
finite stops training before it changes a variable (errors.TrainingDiverged
names the step; the latest checkpoint is the last finite one); SIGINT or
SIGTERM during training ends the current step, saves a checkpoint and raises
errors.Interrupted; an evaluation that read no image is refused, never
reported as 0.0.
"""
import contextlib
import json
import os
import re
import shutil
import signal
import tempfile
import threading
import time

from absl import logging
import tensorflow as tf

from alexnet_estimator import cluster
from alexnet_estimator import distribution
from alexnet_estimator import errors
from alexnet_estimator import estimator as estimator_lib
from alexnet_estimator import files
from alexnet_estimator import hooks as hooks_lib
from alexnet_estimator import model_dir as model_dir_lib
from alexnet_estimator import model_fn as model_fn_lib
from alexnet_estimator import schedule
from alexnet_estimator import spec as spec_lib


def _estimator(spec, params=None, warm_start=None):
  o = spec.options
  return estimator_lib.make_estimator(
      o.model_dir, params or spec.params, o.save_checkpoints_steps,
      o.log_every_n_steps, warm_start, spec.devices)


# The last evaluation of a run, so a rerun of a finished run can print it.
EVALUATION_FILE = 'evaluation.json'


def _writable(folder):
  """True if a file can be written in `folder/eval`, where evaluate writes.

  A probe file, not the folder alone: `eval/` of an earlier run exists on a
  read-only mount too.
  """
  probe = os.path.join(folder, 'eval', '.write_probe-%d' % os.getpid())
  try:
    tf.io.gfile.makedirs(os.path.dirname(probe))
    with tf.io.gfile.GFile(probe, 'w') as f:
      f.write('')
    tf.io.gfile.remove(probe)
    return True
  except (tf.errors.OpError, OSError):
    return False


def evaluate(estimator, source, params, skipped):
  """Evaluates once over every validation image; returns a JSON-able dict.

  `skipped` (input_fn.SkippedFiles) keeps the bad validation files over the
  run: each is warned about and read once, and counted in every evaluation.

  On a model_dir that cannot be written (a read-only mount) the Estimator's
  evaluation summaries go to a temporary folder, with a warning, so the
  metrics are still computed and returned.

  Raises:
    errors.DataError: no validation image could be read.
  """
  input_fn = source.eval_input_fn(params, skipped)
  model_dir = estimator.model_dir
  if _writable(model_dir):
    results = estimator.evaluate(input_fn)
  else:
    logging.warning('%s cannot be written: evaluating without writing '
                    'TensorBoard summaries there.', model_dir)
    checkpoint = tf.train.latest_checkpoint(model_dir)
    scratch = tempfile.mkdtemp(prefix='alexnet_eval_')
    try:
      results = tf.estimator.Estimator(
          model_fn_lib.model_fn, scratch, params=estimator.params).evaluate(
              input_fn, checkpoint_path=checkpoint)
    finally:
      shutil.rmtree(scratch, ignore_errors=True)
  metrics = {k: float(v) for k, v in results.items()}
  for key in ('global_step', 'num_images'):
    metrics[key] = int(results[key])
  metrics['skipped_files'] = skipped.count
  # Records of damaged TFRecord shards that could not be read at all.
  metrics['lost_records'] = skipped.lost_records
  if not metrics['num_images']:
    raise errors.DataError(
        'no validation image could be read (%d skipped, %d records lost): '
        'nothing was evaluated; check the validation data'
        % (skipped.count, skipped.lost_records))
  return metrics


def evaluate_once(spec):
  """--mode eval: the metrics of model_dir's latest checkpoint."""
  metrics = evaluate(_estimator(spec), spec.data, spec.params,
                     spec.eval_skipped)
  spec.eval_skipped.log_total('the validation set')
  return metrics


def _record_evaluation(model_dir, metrics, params):
  """Feeds an evaluation to the schedule state; logs a drop or a stop."""
  state = schedule.record_evaluation(model_dir, metrics['global_step'],
                                     metrics['accuracy'], params)
  event = state['history'][-1]['event'] if state['history'] else None
  if event == 'drop':
    logging.info('Validation accuracy has not improved on %.4f (step %d) for '
                 '%d evaluations: learning rate now %g (drop %d of %d).',
                 state['best_accuracy'], state['best_step'],
                 params['plateau_patience'],
                 schedule.learning_rate(state, params), state['drops'],
                 params['max_lr_drops'])
  elif event == 'stop':
    logging.info('Stopping early at step %d: validation accuracy has not '
                 'improved on %.4f (step %d) for %d evaluations.',
                 state['stopped_at'], state['best_accuracy'],
                 state['best_step'], params['early_stopping_patience'])
  return state


def _log_start(model_dir, step, last_step, state, params):
  if state['stopped_at'] is not None:
    logging.info('%s stopped early at step %d: no better validation accuracy '
                 'than %.4f (step %d) for %d evaluations.', model_dir,
                 state['stopped_at'], state['best_accuracy'],
                 state['best_step'], params['early_stopping_patience'])
  elif step >= last_step:
    logging.info('%s is already trained to step %d (of %d).', model_dir, step,
                 last_step)
  elif step:
    logging.info('Resuming %s from step %d.', model_dir, step)


class _StopOnSignal(tf.estimator.SessionRunHook):
  """Ends training after the current step once `signum` is set.

  Estimator.train then returns as at its last step: the checkpoint saver
  writes the current step, so nothing trained is lost.
  """

  def __init__(self):
    self.signum = None

  def after_run(self, run_context, run_values):
    if self.signum is not None:
      run_context.request_stop()


@contextlib.contextmanager
def _stop_on_signals(hook):
  """While inside, SIGINT and SIGTERM set hook.signum (a second: at once)."""
  if threading.current_thread() is not threading.main_thread():
    yield  # signal handlers belong to the main thread
    return

  def _handler(signum, unused_frame):
    if hook.signum is not None:
      raise KeyboardInterrupt  # asked twice: stop now, unsaved
    hook.signum = signum
    logging.warning('%s: stopping after this step and saving a checkpoint '
                    '(again to stop at once, unsaved).',
                    signal.Signals(signum).name)

  previous = {s: signal.signal(s, _handler)
              for s in (signal.SIGINT, signal.SIGTERM)}
  try:
    yield
  finally:
    for s, handler in previous.items():
      signal.signal(s, handler)


def _remove_partial_checkpoints(model_dir):
  """Removes what a save that failed half-way (a full disk) left behind.

  TensorFlow's sharded save writes into `<checkpoint>_temp_<id>/` and renames
  the files when they are complete; the checkpoints before stay intact.
  """
  for path in tf.io.gfile.glob(os.path.join(model_dir, '*_temp_*')):
    try:
      if tf.io.gfile.isdir(path):
        tf.io.gfile.rmtree(path)
      else:
        tf.io.gfile.remove(path)
      logging.warning('Removed %s, left by a checkpoint save that failed.',
                      path)
    except (tf.errors.OpError, OSError):
      pass


def _train_cycle(estimator, train_input, hooks, max_steps, model_dir):
  """estimator.train; a non-finite step becomes errors.TrainingDiverged."""
  try:
    estimator.train(train_input, hooks=hooks, max_steps=max_steps)
  except tf.errors.InvalidArgumentError as e:
    found = re.search(r'%s\] \[(-?\d+)\]' % re.escape(model_fn_lib.DIVERGED),
                      e.message)
    if not found:
      _remove_partial_checkpoints(model_dir)
      raise
    raise errors.TrainingDiverged(
        'training diverged: the loss or the gradients became NaN or inf at '
        'step %s, and that step was not applied; %s keeps its last finite '
        'checkpoint (step %d): lower --learning_rate (or add warm-up) and '
        'rerun to resume from it' % (found.group(1), model_dir,
                                     files.checkpoint_step(model_dir)))
  except (tf.errors.OpError, OSError):
    _remove_partial_checkpoints(model_dir)
    raise


def _evaluation_path(model_dir):
  return os.path.join(model_dir, EVALUATION_FILE)


def _final_evaluation(spec, params):
  """A finished run's metrics: stored if its last checkpoint has them."""
  model_dir = spec.options.model_dir
  stored = files.read_json(_evaluation_path(model_dir))
  step = files.checkpoint_step(model_dir)
  if stored is not None and stored.get('global_step') == step:
    logging.info('The checkpoint of step %d was evaluated before.', step)
    return stored
  logging.info('Evaluating the checkpoint of step %d, which has no '
               'evaluation yet.', step)
  return evaluate(_estimator(spec, params), spec.data, params,
                  spec.eval_skipped)


def train(spec):
  """Trains (and evaluates between cycles) to spec.last_step.

  Returns:
    With train_and_eval, the metrics of the last checkpoint (a rerun of a
    finished run evaluates it if it has no evaluation yet); else None.

  Raises:
    errors.TrainingDiverged: a step's loss or gradients were not finite.
    errors.Interrupted: SIGINT or SIGTERM; the checkpoint was saved.
  """
  o, params, devices = spec.options, spec.params, spec.devices
  uses_evaluations = schedule.uses_evaluations(params)
  if uses_evaluations and o.mode != 'train_and_eval':
    logging.warning('--mode %s does not evaluate: the plateau schedule keeps '
                    'its rate and early stopping never stops (use --mode '
                    'train_and_eval).', o.mode)
  model_dir_lib.save_model_info(o.model_dir, params)
  skipped = spec.train_skipped
  # --batch_size is global: with N replicas each input pipeline makes 1/N.
  train_input = spec.data.train_input_fn(
      spec_lib.per_replica_params(params, devices), skipped)
  if devices.replicas > 1:
    logging.info('Training on %d replicas (%s), %d images each per step.',
                 devices.replicas, type(devices.strategy).__name__,
                 params['batch_size'] // devices.replicas)
  progress = hooks_lib.ProgressHook(params['batch_size'], spec.last_step,
                                    o.log_every_n_steps)
  stop = _StopOnSignal()
  metrics = None
  step = files.checkpoint_step(o.model_dir)
  state = schedule.load(o.model_dir)
  _log_start(o.model_dir, step, spec.last_step, state, params)
  with _stop_on_signals(stop):
    while (step < spec.last_step and state['stopped_at'] is None and
           stop.signum is None):
      step = min(step + spec.steps_per_cycle, spec.last_step)
      # A new Estimator each cycle: the plateau schedule may have dropped the
      # rate, and model_fn reads it from params.
      estimator = _estimator(spec, dict(params, lr_drops=state['drops']),
                             spec.warm_start)
      _train_cycle(estimator, train_input, [progress, stop], step,
                   o.model_dir)
      if stop.signum is not None:
        break
      if o.mode == 'train_and_eval':
        metrics = evaluate(estimator, spec.data, params, spec.eval_skipped)
        logging.info('Evaluation at step %d: %s', metrics['global_step'],
                     json.dumps(metrics, sort_keys=True))
        files.write_json(_evaluation_path(o.model_dir), metrics)
        if uses_evaluations:
          state = _record_evaluation(o.model_dir, metrics, params)
  skipped.log_total('the training set')
  spec.eval_skipped.log_total('the validation set')
  if stop.signum is not None:
    raise errors.Interrupted(
        'interrupted by %s at step %d; saved a checkpoint in %s: rerun the '
        'same command to resume' % (signal.Signals(stop.signum).name,
                                    files.checkpoint_step(o.model_dir),
                                    o.model_dir), stop.signum)
  if o.mode == 'train_and_eval' and metrics is None:
    metrics = _final_evaluation(spec, dict(params, lr_drops=state['drops']))
  return metrics


def _no_evaluation():
  raise errors.UsageError('--mode train has no evaluation: run the evaluator '
                          'task with --mode train_and_eval')


# Multi-worker checkpoints go by steps: saving by time could run on one
# worker and not another, and deadlock their collective ops (TensorFlow warns
# and uses this cadence instead).
_MULTI_WORKER_CHECKPOINT_STEPS = 1000


def _multi_worker_estimator(spec, save_checkpoints_steps):
  """The Estimator of a chief or worker under multi_worker_mirrored.

  The strategy is made here, with TF_CONFIG in the environment. Only the
  chief checkpoints: TensorFlow would have every other worker save the same
  variables into model_dir/tmp_worker_<i> too, in case saving ran collective
  ops; ours runs none (every variable is mirrored, none is summed on read),
  and a copy of the model per worker is disk spent for nothing. The workers
  still restore model_dir's latest checkpoint when they start, as the chief
  does, so a restarted cluster resumes.
  """
  o, devices = spec.options, spec.devices
  strategy = distribution.make_strategy(devices)
  config = estimator_lib.make_run_config(
      o.model_dir, save_checkpoints_steps or _MULTI_WORKER_CHECKPOINT_STEPS,
      o.log_every_n_steps, train_distribute=strategy,
      enable_xla=devices.enable_xla)
  if spec.task.type != 'chief':
    config = config.replace(save_checkpoints_steps=None,
                            save_checkpoints_secs=None)
  return tf.estimator.Estimator(model_fn=model_fn_lib.model_fn,
                                params=spec.params, config=config)


def train_in_cluster(spec):
  """Runs this task of a cluster through tf.estimator.train_and_evaluate.

  The chief and the workers train (each on its share of the data) to
  `last_step` of the shared global step, then mark themselves done; the
  evaluator evaluates each new checkpoint, which the chief writes every
  `steps_per_cycle` steps unless --save_checkpoints_steps says otherwise.

  With parameter servers each training task steps on its own (the global step
  counts the steps of all) and a ps serves until the training tasks are done
  (cluster.py). Under multi_worker_mirrored every training task runs every
  step, on its share of each global batch (--batch_size / all replicas per
  replica), then waits for the others to be done before it ends; the
  evaluator evaluates on one device.
  """
  o, task, params, source = spec.options, spec.task, spec.params, spec.data
  if task.type == 'ps':
    cluster.run_ps(task, o.model_dir, spec.last_step)
    return
  started = time.time()
  if task.type == 'chief':
    model_dir_lib.save_model_info(o.model_dir, params)
  skipped = spec.train_skipped
  save_checkpoints_steps = o.save_checkpoints_steps
  if o.mode == 'train_and_eval':
    save_checkpoints_steps = save_checkpoints_steps or spec.steps_per_cycle
  multi_worker = (spec.devices.multi_worker is not None and
                  task.type != 'evaluator')
  train_params = params
  if multi_worker:
    estimator = _multi_worker_estimator(spec, save_checkpoints_steps)
    # --batch_size is global: each replica of each worker makes its share.
    train_params = spec_lib.per_replica_params(params, spec.devices)
    logging.info('Synchronous training on %d replicas of %d workers, %d '
                 'images each per step.', spec.devices.replicas,
                 spec.devices.multi_worker.num_workers,
                 train_params['batch_size'])
  else:
    estimator = estimator_lib.make_estimator(
        o.model_dir, params, save_checkpoints_steps, o.log_every_n_steps,
        spec.warm_start)
  hook = hooks_lib.ProgressHook(params['batch_size'], spec.last_step,
                                o.log_every_n_steps)
  train_spec = tf.estimator.TrainSpec(
      source.train_input_fn(train_params, skipped), max_steps=spec.last_step,
      hooks=[hook] + cluster.digest_hooks(task))
  eval_skipped = spec.eval_skipped
  eval_input = (source.eval_input_fn(params, eval_skipped)
                if source.num_validation else _no_evaluation)
  # throttle_secs=1: the evaluator looks for a new checkpoint every second.
  eval_spec = tf.estimator.EvalSpec(eval_input, steps=None,
                                    start_delay_secs=0, throttle_secs=1)
  tf.estimator.train_and_evaluate(estimator, train_spec, eval_spec)
  if task.type == 'evaluator':
    eval_skipped.log_total('the validation set')
    logging.info('Evaluator done: the checkpoint reached step %d.',
                 spec.last_step)
    return
  skipped.log_total('this task\'s share of the training set')
  cluster.mark_done(o.model_dir, task, spec.last_step, hook.steps_run)
  if multi_worker:
    cluster.wait_for_trainers(o.model_dir, task, spec.last_step, started)
    cluster.release_collective_server()
  logging.info('%s %d done: the global step reached %d; this task ran %d '
               'steps.', task.type, task.index, spec.last_step,
               hook.steps_run)
