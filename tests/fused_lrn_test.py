"""fused_lrn: building, caching and loading the kernel, and doing without.

Its values against NumPy and tf.nn.lrn are in model_fn_test
(LrnImplementationTest); where model_fn uses it, there too.
"""
import os
import subprocess
import sys
import tempfile
from unittest import mock

from absl.testing import absltest
import numpy as np
import pytest
import tensorflow as tf

from alexnet_estimator import fused_lrn
from tests import helpers


# A fresh process that asks for the kernel, builds a training graph and
# prints what computes its LRN layers. (This process keeps the one library it
# loaded: a second, with the same ops, would register their kernels twice.)
_FRESH_PROCESS = """
from alexnet_estimator import fused_lrn, log, model_fn, params
import tensorflow as tf
log.quiet()
print('library', fused_lrn.load() is not None)
with tf.Graph().as_default() as graph:
  model_fn.alexnet(tf.zeros([1, 67, 67, 3]), True,
                   params.make_params(num_classes=3, image_size=67))
print('ops', sorted(op.type for op in graph.get_operations()
                    if 'LRN' in op.type))
"""


def _fresh_process(cache, **environ):
  """Runs _FRESH_PROCESS with the cache `cache`; returns (stdout, stderr)."""
  env = helpers.cli_env(dict(environ, ALEXNET_ESTIMATOR_CACHE=cache))
  proc = subprocess.run([sys.executable, '-c', _FRESH_PROCESS],
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                        env=env, universal_newlines=True, timeout=300)
  assert proc.returncode == 0, proc.stderr[-3000:]
  return proc.stdout, proc.stderr


class BuildTest(tf.test.TestCase):

  def setUp(self):
    super(BuildTest, self).setUp()
    self.cache = tempfile.mkdtemp(dir=self.get_temp_dir())

  def _environ(self, **environ):
    return mock.patch.dict(os.environ, dict(
        {'ALEXNET_ESTIMATOR_CACHE': self.cache}, **environ))

  def test_builds_once_into_the_cache_and_then_reuses_it(self):
    with self._environ():
      path = fused_lrn.build()
      self.assertEqual(os.path.dirname(path), self.cache)
      self.assertTrue(os.path.isfile(path))
      # Nothing half-written is left beside it.
      self.assertEqual(os.listdir(self.cache), [os.path.basename(path)])
      # Found again without a compiler: no second build.
      with mock.patch.dict(os.environ, PATH=self.get_temp_dir()):
        self.assertEqual(fused_lrn.build(), path)

  def test_the_cache_name_follows_the_compiler_and_the_cache_folder(self):
    with self._environ(CXX='g++'):
      first = fused_lrn.library_path()
      self.assertEqual(os.path.dirname(first), self.cache)
      with mock.patch.dict(os.environ, CXX='clang++'):
        self.assertNotEqual(fused_lrn.library_path(), first)
    with self._environ(ALEXNET_ESTIMATOR_CACHE='', XDG_CACHE_HOME=self.cache):
      self.assertEqual(fused_lrn.cache_dir(),
                       os.path.join(self.cache, 'alexnet_estimator'))

  def test_a_missing_compiler_is_named(self):
    missing = os.path.join(self.get_temp_dir(), 'no-such-g++')
    with self._environ(CXX=missing):
      with self.assertRaisesRegex(fused_lrn.BuildError,
                                  'cannot run the compiler .*no-such-g\\+\\+'
                                  '.*install g\\+\\+ or set CXX'):
        fused_lrn.build()
    self.assertEqual(os.listdir(self.cache), [])  # no temporary left

  def test_a_failing_compiler_is_named_with_its_last_line(self):
    with self._environ(CXX='false'):
      with self.assertRaisesRegex(fused_lrn.BuildError,
                                  r'^false failed \(exit 1\): no output$'):
        fused_lrn.build()
    self.assertEqual(os.listdir(self.cache), [])

  def test_an_unwritable_cache_says_which_variable_to_set(self):
    cache = os.path.join(self.get_temp_dir(), 'a_file')
    open(cache, 'w').close()
    with self._environ(ALEXNET_ESTIMATOR_CACHE=os.path.join(cache, 'x')):
      with self.assertRaisesRegex(fused_lrn.BuildError,
                                  'cannot write .*a_file/x.*set '
                                  'ALEXNET_ESTIMATOR_CACHE'):
        fused_lrn.build()


@pytest.mark.slow
class FreshProcessTest(tf.test.TestCase):
  """What a new process does when the kernel builds, or cannot."""

  def setUp(self):
    super(FreshProcessTest, self).setUp()
    self.cache = tempfile.mkdtemp(dir=self.get_temp_dir())

  def test_builds_loads_and_trains_with_it(self):
    stdout, _ = _fresh_process(self.cache)
    self.assertIn('library True', stdout)
    # Forward only: the graph has no gradients.
    self.assertIn("ops ['AlexnetLRN', 'AlexnetLRN']", stdout)
    self.assertEqual(len(os.listdir(self.cache)), 1)

  def test_without_a_compiler_training_uses_tf_nn_lrn_after_one_warning(self):
    missing = os.path.join(self.get_temp_dir(), 'no-such-g++')
    stdout, stderr = _fresh_process(self.cache, CXX=missing)
    self.assertIn('library False', stdout)
    self.assertIn("ops ['LRN', 'LRN']", stdout)
    warnings = [line for line in stderr.splitlines()
                if 'No fused LRN kernel' in line]
    self.assertEqual(len(warnings), 1, stderr)
    self.assertIn('cannot run the compiler %s' % missing, warnings[0])
    self.assertIn('tf.nn.lrn: the same values, slower', warnings[0])

  def test_a_broken_library_is_named_and_not_used(self):
    with mock.patch.dict(os.environ, ALEXNET_ESTIMATOR_CACHE=self.cache):
      path = fused_lrn.library_path()
    with open(path, 'wb') as f:
      f.write(b'not a shared object')
    stdout, stderr = _fresh_process(self.cache)
    self.assertIn('library False', stdout)
    self.assertIn("ops ['LRN', 'LRN']", stdout)
    self.assertIn('cannot load %s' % path, stderr)
    self.assertIn('delete it to build it again', stderr)

  def test_the_switch_turns_it_off(self):
    stdout, _ = _fresh_process(self.cache, ALEXNET_ESTIMATOR_FUSED_LRN='0')
    self.assertIn('library False', stdout)
    self.assertIn("ops ['LRN', 'LRN']", stdout)
    self.assertEqual(os.listdir(self.cache), [])


class OpTest(tf.test.TestCase):

  def test_shapes_are_checked_when_the_graph_is_built(self):
    with self.assertRaisesRegex(ValueError, 'must be rank 4'):
      fused_lrn.lrn(tf.zeros([3, 4]), 2, 1.0, 1e-4, 0.75)
    library = fused_lrn.load()
    with self.assertRaises(ValueError):
      library.alexnet_lrn_grad(tf.zeros([1, 2, 2, 3]), tf.zeros([1, 2, 2, 4]))

  def test_empty_batches_and_many_threads(self):
    # No rows; and more rows than threads, split unevenly.
    empty = self.evaluate(fused_lrn.lrn(tf.zeros([0, 5, 5, 8]), 2, 1.0, 1e-4,
                                        0.75))
    self.assertEqual(empty.shape, (0, 5, 5, 8))
    x = np.random.RandomState(0).normal(size=[7, 3, 5, 11]).astype(np.float32)
    got = self.evaluate(fused_lrn.lrn(tf.constant(x), 5, 2.0, 1e-4, 0.75))
    want = self.evaluate(tf.nn.lrn(tf.constant(x), 5, 2.0, 1e-4, 0.75))
    self.assertAllClose(got, want, rtol=1e-6, atol=0)

  def test_non_finite_values_stay_non_finite(self):
    # The training step's finiteness check must still see them.
    x = np.ones([1, 1, 2, 4], np.float32)
    x[0, 0, 0, 1] = np.nan
    x[0, 0, 1, 2] = np.inf
    images = tf.constant(x)
    y = fused_lrn.lrn(images, 1, 1.0, 1e-4, 0.75)
    dx, = tf.gradients(y, images)
    got, got_dx = self.evaluate([y, dx])
    self.assertTrue(np.isnan(got[0, 0, 0, :3]).all(), got)
    self.assertTrue(np.isfinite(got[0, 0, 0, 3]), got)
    self.assertFalse(np.isfinite(got_dx[0, 0, 1, 1:4]).any(), got_dx)


if __name__ == '__main__':
  absltest.main()
