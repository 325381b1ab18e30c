"""What the package's two command lines share: errors and --help."""
from __future__ import print_function

import sys

from absl import app
from absl import flags


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


def run(main, module_name, program):
  """app.run(main) whose --help shows `module_name`'s doc and flags.

  absl's --help describes the main module; under a console script that is the
  generated wrapper, so lend it the CLI module's docstring and flags.
  """
  wrapper = sys.modules['__main__']
  module = sys.modules[module_name]
  if wrapper is not module:
    wrapper.__doc__ = module.__doc__
    for flag in flags.FLAGS.flags_by_module_dict().get(module_name, []):
      flags.FLAGS.register_key_flag_for_module(sys.argv[0], flag)
  app.run(main, flags_parser=one_line_flag_errors(program))
