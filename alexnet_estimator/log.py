"""The log a user reads: TensorFlow's lines once, without its chatter.

TF 1.15 prints dozens of deprecation notices per graph, repeats each of its
lines through absl's handler, and logs its own loss, global_step/sec and
checkpoint lines beside the package's progress line. Both the command lines
and the notebook API (build_estimator, predict_input_fn) call `quiet()`.
"""
import logging as logging_lib

import tensorflow as tf

class _DropDeprecationNotices(logging_lib.Filter):
  """Keeps TF 1.15's deprecation notices (dozens per graph) out of the log."""

  def filter(self, record):
    message = record.getMessage()
    # The AMP rewrite warns about every session made before it was on; the
    # one that reads the first batch is one, and needs no rewrite.
    return not ('is deprecated' in message or
                'Instructions for updating' in message or
                'existing Sessions that do not use mixed precision' in message or
                # Evaluation runs on one device on purpose (docs/devices.md).
                '`eval_strategy` is not passed in' in message)


def quiet(verbose=False):
  """One copy of each TensorFlow log line, without deprecation notices.

  Args:
    verbose: keep TensorFlow's INFO lines (its own loss, global_step/sec and
      checkpoint lines, which repeat what the package logs); else only its
      warnings and errors.
  """
  tf_logger = tf.get_logger()
  tf_logger.propagate = False  # absl's handler would print TF's lines twice
  tf_logger.setLevel(logging_lib.INFO if verbose else logging_lib.WARNING)
  if not any(isinstance(f, _DropDeprecationNotices)
             for f in tf_logger.filters):
    tf_logger.addFilter(_DropDeprecationNotices())
