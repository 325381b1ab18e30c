"""The paper's learning-rate plateau schedule and early stopping, kept on disk.

Krizhevsky et al. divided the learning rate by 10 "when the validation error
rate stopped improving with the current learning rate", three times in all. No
Estimator schedule does that: it depends on evaluations, which run outside the
training graph. The training loop (train.py) calls `record_evaluation` after
each evaluation; the state lives in model_dir/lr_schedule.json, written
atomically, so a restarted run goes on with the same rate, the same best
accuracy and the same count of flat evaluations. model_fn gets the number of
drops as params['lr_drops'].

The same state drives early stopping (params['early_stopping_patience']).
"""
import os

from alexnet_estimator import files

STATE_FILE = 'lr_schedule.json'


def state_path(model_dir):
  return os.path.join(model_dir, STATE_FILE)


def initial_state():
  return {'drops': 0, 'best_accuracy': None, 'best_step': None,
          'flat_evaluations': 0, 'stopped_at': None, 'history': []}


def load(model_dir):
  """The schedule state of `model_dir`; a fresh one if there is none."""
  state = files.read_json(state_path(model_dir))
  return dict(initial_state(), **(state or {}))


def uses_evaluations(params):
  """True if the plateau schedule or early stopping needs the evaluations."""
  return (params['lr_schedule'] == 'plateau' or
          params['early_stopping_patience'] > 0)


def base_rate(params, drops):
  """params' learning rate after `drops` plateau drops (plateau schedule)."""
  rate = params['learning_rate']
  if params['lr_schedule'] == 'plateau':
    rate *= params['lr_decay_factor'] ** drops
  return rate


def learning_rate(state, params):
  """The base rate after the plateau drops of `state`."""
  return base_rate(params, state['drops'])


def record_evaluation(model_dir, step, accuracy, params):
  """Counts one evaluation and returns the new state, saved in model_dir.

  An evaluation improves on the best when its accuracy is strictly higher.
  After plateau_patience evaluations in a row without an improvement (counted
  since the best or since the last drop), the plateau schedule drops the rate,
  at most max_lr_drops times. Early stopping marks the run stopped after
  early_stopping_patience such evaluations once no drop is left.

  An evaluation at a step the state has already counted (a rerun that
  evaluates the same checkpoint again) changes nothing.

  Args:
    model_dir: the run's folder.
    step: global step of the evaluated checkpoint.
    accuracy: its validation accuracy.
    params: full params.

  Returns:
    The state dict; its last 'history' entry's 'event' is one of 'improved',
    'flat', 'drop' or 'stop' (or the state is unchanged).
  """
  state = load(model_dir)
  if state['history'] and step <= state['history'][-1]['step']:
    return state
  rate = learning_rate(state, params)
  if state['best_accuracy'] is None or accuracy > state['best_accuracy']:
    state.update(best_accuracy=accuracy, best_step=step, flat_evaluations=0)
    event = 'improved'
  else:
    state['flat_evaluations'] += 1
    event = 'flat'
  plateau = params['lr_schedule'] == 'plateau'
  drops_left = plateau and state['drops'] < params['max_lr_drops']
  if (event == 'flat' and drops_left and
      state['flat_evaluations'] >= params['plateau_patience']):
    state['drops'] += 1
    state['flat_evaluations'] = 0
    event = 'drop'
  elif (params['early_stopping_patience'] and not drops_left and
        state['flat_evaluations'] >= params['early_stopping_patience']):
    state['stopped_at'] = step
    event = 'stop'
  state['history'].append({'step': step, 'accuracy': accuracy,
                           'learning_rate': rate, 'event': event})
  files.write_json(state_path(model_dir), state)
  return state
