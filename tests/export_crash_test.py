"""An export killed mid-way leaves no SavedModel under a final name.

Estimator.export_saved_model writes into EXPORT_DIR/temp-<timestamp> and
renames it to EXPORT_DIR/<timestamp> only once everything is written; TF
Serving (and serving.find_saved_model) only look at the numeric names. Here
`--mode export` is SIGKILLed while it writes, and nothing may then pass for a
SavedModel; a rerun must export a complete one.
"""
import glob
import os
import signal
import subprocess
import time

import numpy as np
import pytest
import tensorflow as tf

from alexnet_estimator import export as export_lib
from alexnet_estimator import serving
from tests import helpers

CLASSES = ('apple', 'banana')
TEMP_PREFIX = 'temp-'
# Kill attempts that wait for the variables to be written: from then to the
# rename takes some 100 ms here, a poll 1 ms. Should all of them come too
# late (each such export is checked complete), one more attempt kills as soon
# as the temp folder appears, which leaves half a second before the rename.
VARIABLE_ATTEMPTS = 3
ATTEMPT_TIMEOUT_SECS = 300


def _entries(export_base):
  """(temp-* folder names, other names) in export_base."""
  names = sorted(os.listdir(export_base)) if os.path.isdir(export_base) else []
  temps = [n for n in names if n.startswith(TEMP_PREFIX)]
  return temps, [n for n in names if not n.startswith(TEMP_PREFIX)]


def _files_under(folder):
  out = []
  for parent, _, files in os.walk(folder):
    out.extend(os.path.relpath(os.path.join(parent, f), folder) for f in files)
  return sorted(out)


@pytest.mark.slow
class KilledExportTest(tf.test.TestCase):

  def setUp(self):
    super(KilledExportTest, self).setUp()
    self.root = self.get_temp_dir()
    data_dir = os.path.join(self.root, 'data')
    written = helpers.make_tree(data_dir, layout='split', classes=CLASSES,
                                train_per_class=2, validation_per_class=1,
                                image_size=(30, 30))
    self.images = []
    for path, _ in written['validation']:
      with open(path, 'rb') as f:
        self.images.append(f.read())
    self.model_dir = os.path.join(self.root, 'model')
    code, _, stderr = helpers.run_cli(
        '--data_dir', data_dir, '--model_dir', self.model_dir, '--mode',
        'train', '--max_train_steps', '2', '--image_size', '67',
        '--batch_size', '2')
    self.assertEqual(code, 0, stderr[-5000:])

  def _kill_export(self, export_base, wait_for_variables):
    """Starts `--mode export`, SIGKILLs it once it writes.

    Args:
      export_base: the --export_dir.
      wait_for_variables: kill once temp-*/variables/ holds something (the
        variables are being written); else as soon as a temp-* folder
        exists.

    Returns:
      (exit code: -SIGKILL if killed, the end of its stderr).
    """
    log_path = export_base + '.log'
    pattern = os.path.join(export_base, TEMP_PREFIX + '*')
    if wait_for_variables:
      pattern = os.path.join(pattern, 'variables', '*')
    with open(log_path, 'w') as log:
      proc = subprocess.Popen(
          helpers.cli_command('--mode', 'export', '--model_dir',
                              self.model_dir, '--export_dir', export_base),
          stdout=subprocess.DEVNULL, stderr=log, env=helpers.cli_env())
    deadline = time.time() + ATTEMPT_TIMEOUT_SECS
    try:
      while proc.poll() is None and time.time() < deadline:
        if glob.glob(pattern):
          proc.send_signal(signal.SIGKILL)
          break
        time.sleep(0.001)
    finally:
      if proc.poll() is None and time.time() >= deadline:
        proc.kill()
      proc.wait()
    with open(log_path) as log:
      return proc.returncode, log.read()[-2000:]

  def assertLoadsAndServes(self, export_path):
    self.assertTrue(tf.saved_model.contains_saved_model(export_path))
    with tf.Graph().as_default(), tf.Session() as sess:
      meta = tf.saved_model.loader.load(sess, ['serve'], export_path)
      signature = meta.signature_def['serving_default']
      probabilities = sess.run(
          signature.outputs['probabilities'].name,
          {signature.inputs[export_lib.INPUT_NAME].name: self.images})
    self.assertEqual(probabilities.shape, (len(self.images), len(CLASSES)))
    self.assertAllClose(probabilities.sum(axis=1),
                        np.ones(len(self.images)), atol=1e-5)

  def test_killed_export_leaves_no_saved_model_under_a_final_name(self):
    killed_base = None
    attempts = []
    for attempt in range(VARIABLE_ATTEMPTS + 1):
      wait_for_variables = attempt < VARIABLE_ATTEMPTS
      export_base = os.path.join(self.root, 'export%d' % attempt)
      code, stderr = self._kill_export(export_base, wait_for_variables)
      temps, finals = _entries(export_base)
      attempts.append((wait_for_variables, code, temps, finals, stderr))
      for name in finals:
        # Killed too late: the rename had happened, so it is complete.
        self.assertLoadsAndServes(os.path.join(export_base, name))
      if code == -signal.SIGKILL and temps and not finals:
        killed_base = export_base
        break
    self.assertIsNotNone(killed_base, 'no kill landed mid-way: %s' % attempts)

    temps, finals = _entries(killed_base)
    # Nothing under a final name, let alone a saved_model.pb; what was
    # written stays in the temp folder, which servers ignore.
    self.assertEqual(finals, [])
    self.assertLen(temps, 1)
    temp = os.path.join(killed_base, temps[0])
    if attempts[-1][0]:  # it was writing the variables
      self.assertTrue(os.listdir(os.path.join(temp, 'variables')),
                      _files_under(temp))
    with self.assertRaises(IOError):
      serving.find_saved_model(killed_base)

    code, stdout, stderr = helpers.run_cli(
        '--mode', 'export', '--model_dir', self.model_dir, '--export_dir',
        killed_base)
    self.assertEqual(code, 0, stderr[-5000:])
    export_path = stdout.strip().splitlines()[-1]
    self.assertEqual(os.path.dirname(export_path), killed_base)
    self.assertTrue(os.path.basename(export_path).isdigit(), export_path)
    self.assertEqual(_entries(killed_base)[1],
                     [os.path.basename(export_path)])
    self.assertEqual(serving.find_saved_model(killed_base), export_path)
    self.assertLoadsAndServes(export_path)


if __name__ == '__main__':
  tf.test.main()
