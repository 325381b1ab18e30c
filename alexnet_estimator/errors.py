"""The errors a user can cause or meet, each shown as one line.

The command lines (train.py, build_tfrecords.py) catch `Error` and print
`<program>: error: <message>`, then exit with the error's `exit_code`:

  1  DataError, ModelDirError: the data or the run folder cannot serve this
     run (TFRecordError is a DataError); and what the system refuses
     (permission denied, disk full, a corrupt file: see cli.describe_failure).
  2  UsageError: a flag or an argument is missing, wrong, or does not fit the
     others.
  3  TrainingDiverged: the loss became NaN or inf; the latest checkpoint is
     the last finite one.
  130, 143  Interrupted: SIGINT (Ctrl-C) or SIGTERM; a checkpoint was saved.
  141  stdout was closed (e.g. `| head`): the run ends quietly.

Anything else is a bug of ours and keeps its traceback (as does every error
with --debug). The messages name the flag, file or folder at fault and, where
there is one, the way out.
"""


class Error(ValueError):
  """A failure the user can fix; `exit_code` is what the command line exits."""
  exit_code = 1


class UsageError(Error):
  """A flag is missing or wrong; the message names it."""
  exit_code = 2


class DataError(Error):
  """The data folder is missing, empty or inconsistent."""


class TFRecordError(DataError):
  """TFRecord shards are missing, inconsistent or unreadable."""


class ModelDirError(Error):
  """model_dir does not hold a model, or one that fits this run."""


class TrainingDiverged(Error):
  """The loss or the gradients became NaN or inf; nothing of it was saved."""
  exit_code = 3


class Interrupted(Error):
  """SIGINT or SIGTERM: the run saved what it had and stopped."""

  def __init__(self, message, signum):
    super(Interrupted, self).__init__(message)
    self.exit_code = 128 + signum  # 130 for SIGINT, 143 for SIGTERM
