"""Train and evaluate cycles, on one machine or as a task of a cluster.

Each function takes a resolved spec.Spec (plain values, no flags) and a stream
for the results. `train` runs cycles of training to the next evaluation on one
machine, feeding the evaluations to the plateau schedule and early stopping;
`train_in_cluster` runs this process's task through
tf.estimator.train_and_evaluate; `evaluate` evaluates once.
"""
import json

from absl import logging
import tensorflow as tf

from alexnet_estimator import cluster
from alexnet_estimator import errors
from alexnet_estimator import estimator as estimator_lib
from alexnet_estimator import files
from alexnet_estimator import hooks as hooks_lib
from alexnet_estimator import input_fn as input_lib
from alexnet_estimator import model_dir as model_dir_lib
from alexnet_estimator import schedule
from alexnet_estimator import spec as spec_lib


def _estimator(spec, params=None, warm_start=None):
  o = spec.options
  return estimator_lib.make_estimator(
      o.model_dir, params or spec.params, o.save_checkpoints_steps,
      o.log_every_n_steps, warm_start, spec.devices)


def evaluate(estimator, source, params):
  """Evaluates once over every validation image; returns a JSON-able dict."""
  skipped = input_lib.SkippedFiles()
  results = estimator.evaluate(source.eval_input_fn(params, skipped))
  skipped.log_total('the validation set')
  metrics = {k: (int(v) if k == 'global_step' else float(v))
             for k, v in results.items()}
  metrics['num_images'] = source.num_validation - skipped.count
  metrics['skipped_files'] = skipped.count
  return metrics


def evaluate_once(spec):
  """--mode eval: the metrics of model_dir's latest checkpoint."""
  return evaluate(_estimator(spec), spec.data, spec.params)


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


def train(spec, out):
  """Trains (and evaluates between cycles) to spec.last_step.

  Returns:
    The last evaluation's metrics dict, or None if none ran.
  """
  o, params, devices = spec.options, spec.params, spec.devices
  uses_evaluations = schedule.uses_evaluations(params)
  if uses_evaluations and o.mode != 'train_and_eval':
    logging.warning('--mode %s does not evaluate: the plateau schedule keeps '
                    'its rate and early stopping never stops (use --mode '
                    'train_and_eval).', o.mode)
  model_dir_lib.save_model_info(o.model_dir, params)
  skipped = input_lib.SkippedFiles()
  # --batch_size is global: with N replicas each input pipeline makes 1/N.
  train_input = spec.data.train_input_fn(
      spec_lib.per_replica_params(params, devices), skipped)
  if devices.replicas > 1:
    logging.info('Training on %d replicas (%s), %d images each per step.',
                 devices.replicas, type(devices.strategy).__name__,
                 params['batch_size'] // devices.replicas)
  hook = hooks_lib.ProgressHook(params['batch_size'], spec.last_step,
                                o.log_every_n_steps)
  metrics = None
  step = files.checkpoint_step(o.model_dir)
  state = schedule.load(o.model_dir)
  _log_start(o.model_dir, step, spec.last_step, state, params)
  while step < spec.last_step and state['stopped_at'] is None:
    step = min(step + spec.steps_per_cycle, spec.last_step)
    # A new Estimator each cycle: the plateau schedule may have dropped the
    # rate, and model_fn reads it from params.
    estimator = _estimator(spec, dict(params, lr_drops=state['drops']),
                           spec.warm_start)
    estimator.train(train_input, hooks=[hook], max_steps=step)
    if o.mode == 'train_and_eval':
      metrics = evaluate(estimator, spec.data, params)
      logging.info('Evaluation at step %d: %s', metrics['global_step'],
                   json.dumps(metrics, sort_keys=True))
      if uses_evaluations:
        state = _record_evaluation(o.model_dir, metrics, params)
  skipped.log_total('the training set')
  return metrics


def _no_evaluation():
  raise errors.UsageError('--mode train has no evaluation: run the evaluator '
                          'task with --mode train_and_eval')


def train_in_cluster(spec):
  """Runs this task of a cluster through tf.estimator.train_and_evaluate.

  The chief and the workers train (each on its share of the data) to
  `last_step` of the shared global step, then mark themselves done; the
  evaluator evaluates each new checkpoint, which the chief writes every
  `steps_per_cycle` steps unless --save_checkpoints_steps says otherwise; a
  parameter server serves until the training tasks are done (cluster.py).
  """
  o, task, params, source = spec.options, spec.task, spec.params, spec.data
  if task.type == 'ps':
    cluster.run_ps(task, o.model_dir, spec.last_step)
    return
  if task.type == 'chief':
    model_dir_lib.save_model_info(o.model_dir, params)
  skipped = input_lib.SkippedFiles()
  save_checkpoints_steps = o.save_checkpoints_steps
  if o.mode == 'train_and_eval':
    save_checkpoints_steps = save_checkpoints_steps or spec.steps_per_cycle
  estimator = estimator_lib.make_estimator(
      o.model_dir, params, save_checkpoints_steps, o.log_every_n_steps,
      spec.warm_start)
  hook = hooks_lib.ProgressHook(params['batch_size'], spec.last_step,
                                o.log_every_n_steps)
  train_spec = tf.estimator.TrainSpec(source.train_input_fn(params, skipped),
                                      max_steps=spec.last_step, hooks=[hook])
  eval_skipped = input_lib.SkippedFiles()
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
  logging.info('%s %d done: the global step reached %d; this task ran %d '
               'steps.', task.type, task.index, spec.last_step,
               hook.steps_run)

