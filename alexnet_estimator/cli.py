"""What the package's command lines share: the error line, --help, the log."""
import logging as logging_lib
import sys

from absl import app
from absl import flags
import tensorflow as tf

# Where flags_lib defines every flag (absl files a flag under its module).
_FLAGS_MODULE = 'alexnet_estimator.flags'


def fail(program, message, code):
  """Prints one `program: error: message` line to stderr and exits."""
  print('%s: error: %s' % (program, message), file=sys.stderr)
  sys.exit(code)


def one_line_flag_errors(program):
  """A flags_parser for app.run: absl's, with one error line, exit code 2."""
  def _parse(argv):
    try:
      return flags.FLAGS(argv)
    except flags.Error as e:
      fail(program, e, 2)
  return _parse


class _DropDeprecationNotices(logging_lib.Filter):
  """Keeps TF 1.15's deprecation notices (dozens per graph) out of the log."""

  def filter(self, record):
    message = record.getMessage()
    # The AMP rewrite warns about every session made before it was on; the
    # one that reads the first batch is one, and needs no rewrite.
    return not ('is deprecated' in message or
                'Instructions for updating' in message or
                'existing Sessions that do not use mixed precision' in message)


def quiet_tensorflow_log():
  """One copy of each TensorFlow log line, without deprecation notices."""
  tf_logger = tf.get_logger()
  tf_logger.propagate = False  # absl's handler would print TF's lines twice
  if not any(isinstance(f, _DropDeprecationNotices)
             for f in tf_logger.filters):
    tf_logger.addFilter(_DropDeprecationNotices())


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
