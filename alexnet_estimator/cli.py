"""What the package's command lines share: the error line, --help, the log.

`guard` is the error boundary of every entry point: an errors.Error, or a
failure of the system a user can meet (permission denied, disk full, a
missing, corrupt or truncated file, TensorFlow's errors of those kinds), ends
in one `program: error: ...` line and the exit code errors.py documents;
anything else is a bug of ours and keeps its traceback. --debug (or
ALEXNET_ESTIMATOR_DEBUG=1) shows the traceback of every failure.
"""
import errno
import os
import sys

from absl import app
from absl import flags
import tensorflow as tf

from alexnet_estimator import errors

DEBUG_ENV = 'ALEXNET_ESTIMATOR_DEBUG'
# What a user can do about the system's refusals.
_NO_SPACE = ('no space left on the device: free some space (or pick a folder '
             'on another disk) and rerun; the checkpoints already written are '
             'intact')
_NO_PERMISSION = ('permission denied (or a read-only file system): pick a '
                  'folder you can write, or fix its permissions')

# Where flags_lib defines every flag (absl files a flag under its module).
_FLAGS_MODULE = 'alexnet_estimator.flags'


def fail(program, message, code):
  """Prints one `program: error: message` line to stderr and exits."""
  print('%s: error: %s' % (program, message), file=sys.stderr)
  sys.exit(code)


def _first_line(text):
  lines = str(text).strip().splitlines()
  return lines[0] if lines else type(text).__name__


def describe_failure(e):
  """(one-line message, exit code) for a failure a user can meet, or None.

  None means a bug of ours: the caller lets it raise with its traceback.
  """
  if isinstance(e, errors.Error):
    return _first_line(e), e.exit_code
  if isinstance(e, OSError):
    where = e.filename if e.filename is not None else ''
    if e.errno == errno.ENOSPC:
      return '%s: %s' % (where, _NO_SPACE), 1
    if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
      return '%s: %s' % (where, _NO_PERMISSION), 1
    if e.errno in (errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EEXIST):
      return '%s: %s' % (where, e.strerror), 1
    return None
  if isinstance(e, tf.errors.OpError):
    message = _first_line(e.message)
    if ('No space left' in message or
        isinstance(e, tf.errors.ResourceExhaustedError) and
        'space' in message.lower()):
      return '%s; %s' % (message, _NO_SPACE), 1
    if isinstance(e, tf.errors.PermissionDeniedError) or (
        'Read-only file system' in message):
      return '%s; %s' % (message, _NO_PERMISSION), 1
    if isinstance(e, tf.errors.DataLossError):
      return ('%s: a file is truncated or corrupt (a checkpoint, a record '
              'shard or a SavedModel): restore or delete it and rerun'
              % message), 1
    if isinstance(e, (tf.errors.NotFoundError,
                      tf.errors.FailedPreconditionError,
                      tf.errors.OutOfRangeError,
                      tf.errors.ResourceExhaustedError)):
      return message, 1
  return None


def debugging():
  """True if failures should show their tracebacks (ALEXNET_ESTIMATOR_DEBUG)."""
  return os.environ.get(DEBUG_ENV, '') not in ('', '0')


def guard(program, work, debug=False):
  """Runs work(); a failure a user can meet ends in one line and its code.

  Args:
    program: the name the error line starts with.
    work: a function of no arguments.
    debug: let every failure raise with its traceback.

  Returns:
    What work() returns.
  """
  try:
    return work()
  except KeyboardInterrupt:
    if debug or debugging():
      raise
    fail(program, 'interrupted before training began: nothing was saved', 130)
  except BrokenPipeError:
    # stdout was closed (`... | head -1`): end quietly, as Unix tools do.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.exit(141)
  except Exception as e:  # pylint: disable=broad-except
    described = describe_failure(e)
    if described is None or debug or debugging():
      raise
    fail(program, described[0], described[1])


def one_line_flag_errors(program):
  """A flags_parser for app.run: absl's, with one error line, exit code 2."""
  def _parse(argv):
    try:
      return flags.FLAGS(argv)
    except flags.Error as e:
      fail(program, e, 2)
  return _parse


def run(main, module_name, program):
  """app.run(main) whose --help shows `module_name`'s doc and its flags.

  absl's --help describes the main module's key flags; ours are defined in
  flags.py, so they are made key flags of the main module. Under a console
  script the main module is the generated wrapper: lend it the CLI module's
  docstring too.
  """
  wrapper = sys.modules['__main__']
  module = sys.modules[module_name]
  if wrapper is not module:
    wrapper.__doc__ = module.__doc__
  for flag in flags.FLAGS.flags_by_module_dict().get(_FLAGS_MODULE, []):
    flags.FLAGS.register_key_flag_for_module(sys.argv[0], flag)
  app.run(main, flags_parser=one_line_flag_errors(program))
