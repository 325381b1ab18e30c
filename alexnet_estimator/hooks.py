"""Training progress in the log: step, loss, images/sec, steps left, ETA."""
import time

from absl import logging
import tensorflow as tf


def format_duration(seconds):
  """'5s', '2m05s' or '3h02m': a duration or an ETA, as progress lines say."""
  seconds = int(round(seconds))
  hours, rest = divmod(seconds, 3600)
  minutes, seconds = divmod(rest, 60)
  if hours:
    return '%dh%02dm' % (hours, minutes)
  return '%dm%02ds' % (minutes, seconds) if minutes else '%ds' % seconds


class ProgressHook(tf.estimator.SessionRunHook):
  """Logs progress every `every_n_steps` steps.

  It fetches the loss and the global step only on the steps it logs, so it
  costs nothing on the others.
  """

  def __init__(self, batch_size, last_step, every_n_steps=10):
    self._batch_size = batch_size
    self._last_step = last_step
    self._every_n = every_n_steps
    self._calls = 0
    self._start = None  # (time, step) of the window's first step

  @property
  def steps_run(self):
    """Training steps this process ran (the global step counts all)."""
    return self._calls

  def begin(self):
    self._global_step = tf.train.get_global_step()
    self._loss = tf.get_default_graph().get_tensor_by_name('cross_entropy:0')

  def before_run(self, run_context):
    self._calls += 1
    if self._start is None or self._calls % self._every_n == 0:
      return tf.estimator.SessionRunArgs([self._global_step, self._loss])
    return None

  def after_run(self, run_context, run_values):
    if run_values.results is None:
      return
    step, loss = run_values.results
    now = time.time()
    if self._start is None:
      self._start = (now, step)
      return
    seconds, steps = now - self._start[0], step - self._start[1]
    if steps <= 0 or seconds <= 0:
      return
    left = max(self._last_step - step, 0)
    logging.info('step %d/%d  loss %.4f  %.1f images/sec  %d steps left  '
                 'ETA %s', step, self._last_step, loss,
                 steps * self._batch_size / seconds, left,
                 format_duration(left * seconds / steps))
    self._start = (now, step)
