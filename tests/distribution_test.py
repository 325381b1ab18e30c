"""Tests for distribution.py: strategies, per-replica batches, GPU threads.

Without GPUs, MirroredStrategy runs over virtual CPU devices (the session
splits the CPU in two): the multi-device path, all-reduce included, is tried
here on 67x67 images and a few steps.
"""
import copy
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from unittest import mock

import numpy as np
import pytest
import tensorflow as tf

from alexnet_estimator import distribution
from alexnet_estimator import errors
from alexnet_estimator import estimator as estimator_lib
from alexnet_estimator import input_fn as input_lib
from alexnet_estimator import model_dir as model_dir_lib
from alexnet_estimator import model_fn as model_fn_lib
from alexnet_estimator import params as params_lib
from alexnet_estimator import train
from tests import helpers

CLASSES = ('apple', 'banana')
MULTI_WORKER = distribution.MULTI_WORKER
REPLICA_SUFFIX = '/replica_1'  # MirroredStrategy's name for a second copy


def _device_names(strategy):
  """The short device names ('CPU:0', ...) a strategy runs its replicas on."""
  return [d.split('/device:')[-1] for d in strategy.extended.worker_devices]


class GetStrategyTest(tf.test.TestCase):

  def test_no_strategy_on_one_device(self):
    for name, num_gpus in (('default', 0), ('default', 1), ('off', 0),
                           ('off', 1)):
      self.assertIsNone(distribution.get_strategy(name, num_gpus),
                        (name, num_gpus))
    self.assertEqual(distribution.num_replicas(None), 1)

  def test_one_device_on_the_cpu_without_gpus_else_gpu_0(self):
    for num_gpus, device in ((0, 'CPU:0'), (1, 'GPU:0')):
      strategy = distribution.get_strategy('one_device', num_gpus)
      self.assertIsInstance(strategy, tf.distribute.OneDeviceStrategy)
      self.assertEqual(_device_names(strategy), [device])
      self.assertEqual(distribution.num_replicas(strategy), 1)

  def test_mirrored_over_virtual_cpus_without_gpus(self):
    for virtual_cpus in (1, 2, 3):
      strategy = distribution.get_strategy('mirrored', 0, virtual_cpus)
      self.assertIsInstance(strategy, tf.distribute.MirroredStrategy)
      self.assertEqual(_device_names(strategy),
                       ['CPU:%d' % i for i in range(virtual_cpus)])
      self.assertEqual(strategy.num_replicas_in_sync, virtual_cpus)
      self.assertEqual(distribution.num_replicas(strategy), virtual_cpus)

  def test_mirrored_over_the_gpus(self):
    # 'default' mirrors too once there is more than one GPU.
    for name in ('mirrored', 'default'):
      strategy = distribution.get_strategy(name, 2)
      self.assertIsInstance(strategy, tf.distribute.MirroredStrategy)
      self.assertEqual(_device_names(strategy), ['GPU:0', 'GPU:1'])
      self.assertEqual(strategy.num_replicas_in_sync, 2)
    strategy = distribution.get_strategy('mirrored', 1)
    self.assertEqual(_device_names(strategy), ['GPU:0'])

  def test_errors_name_the_flag(self):
    cases = [
        (('fast', 0), ['--distribution_strategy', 'fast', 'mirrored']),
        (('default', -1), ['--num_gpus']),
        (('mirrored', 0, 0), ['--virtual_cpus']),
        (('default', 0, 2), ['--virtual_cpus', 'mirrored']),
        (('one_device', 0, 2), ['--virtual_cpus']),
        (('mirrored', 1, 2), ['--virtual_cpus', 'no GPU']),
        (('off', 2), ['--distribution_strategy off', '--num_gpus is 2']),
        (('one_device', 2), ['--distribution_strategy one_device',
                             '--num_gpus is 2']),
    ]
    for args, names in cases:
      with self.assertRaises(distribution.DistributionError) as caught:
        distribution.get_strategy(*args)
      self.assertIsInstance(caught.exception, ValueError)
      for name in names:
        self.assertIn(name, str(caught.exception), args)


class PerReplicaBatchSizeTest(tf.test.TestCase):

  def test_splits_the_global_batch(self):
    self.assertEqual(distribution.per_replica_batch_size(4, 1), 4)
    self.assertEqual(distribution.per_replica_batch_size(4, 2), 2)
    self.assertEqual(distribution.per_replica_batch_size(12, 3), 4)
    self.assertEqual(distribution.per_replica_batch_size(2, 2), 1)

  def test_refuses_a_batch_that_does_not_divide(self):
    for batch_size, replicas in ((3, 2), (1, 2), (10, 4)):
      with self.assertRaises(distribution.DistributionError) as caught:
        distribution.per_replica_batch_size(batch_size, replicas)
      message = str(caught.exception)
      self.assertIn('--batch_size %d' % batch_size, message)
      self.assertIn('multiple of %d' % replicas, message)


class MakeDevicesTest(tf.test.TestCase):

  def setUp(self):
    super(MakeDevicesTest, self).setUp()
    # make_devices sets TF_GPU_THREAD_*: put the environment back after.
    patcher = mock.patch.dict(os.environ)
    patcher.start()
    self.addCleanup(patcher.stop)
    for key in ('TF_GPU_THREAD_MODE', 'TF_GPU_THREAD_COUNT'):
      os.environ.pop(key, None)

  @pytest.mark.slow
  def test_visible_gpus_counts_the_gpu_devices_and_honours_hiding(self):
    # Asked of fresh processes: device_lib creates every device (it would hold
    # the GPUs' memory in this one). One with the GPUs hidden must see none.
    script = ('import json\n'
              'from tensorflow.python.client import device_lib\n'
              'from alexnet_estimator import distribution\n'
              'visible = distribution.visible_gpus()\n'
              'devices = device_lib.list_local_devices()\n'
              'print(json.dumps([visible, sum(d.device_type == "GPU"\n'
              '                               for d in devices)]))\n')
    children = [
        subprocess.Popen([sys.executable, '-c', script],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=helpers.cli_env(env), universal_newlines=True)
        for env in ({}, {'CUDA_VISIBLE_DEVICES': ''})]
    (as_is, hidden) = [self._last_json_line(child) for child in children]
    self.assertEqual(as_is[0], as_is[1])  # visible_gpus == GPU devices
    self.assertEqual(distribution.visible_gpus(), as_is[0])
    self.assertEqual(hidden, [0, 0])
    if not tf.test.is_built_with_cuda():
      self.assertEqual(as_is, [0, 0])

  def _last_json_line(self, child):
    stdout, stderr = child.communicate(timeout=300)
    self.assertEqual(child.returncode, 0, stderr[-3000:])
    return json.loads(stdout.strip().splitlines()[-1])

  def test_refuses_more_gpus_than_visible(self):
    visible = distribution.visible_gpus()  # 0 on a CPU machine
    for num_gpus in (visible + 1, visible + 4):
      with self.assertRaises(distribution.DistributionError) as caught:
        distribution.make_devices('default', num_gpus,
                                  gpu_thread_mode='gpu_private')
      message = str(caught.exception)
      self.assertIn('--num_gpus %d' % num_gpus, message)
      self.assertIn('sees %d GPU' % visible, message)
    # Refused before anything was set.
    self.assertNotIn('TF_GPU_THREAD_MODE', os.environ)

  def test_no_gpu_is_a_single_device(self):
    self.assertEqual(distribution.make_devices('off', 0),
                     distribution.SINGLE_DEVICE)
    self.assertEqual(distribution.make_devices('default', 0),
                     distribution.SINGLE_DEVICE)
    self.assertNotIn('TF_GPU_THREAD_MODE', os.environ)

  def test_default_counts_the_visible_gpus(self):
    visible = distribution.visible_gpus()
    devices = distribution.make_devices()
    self.assertEqual(devices.num_gpus, visible)
    self.assertEqual(devices.replicas, max(visible, 1))
    self.assertEqual(devices.strategy is None, visible <= 1)

  def test_mirrored_over_virtual_cpus(self):
    devices = distribution.make_devices('mirrored', 0, virtual_cpus=2,
                                        enable_xla=True)
    self.assertIsInstance(devices.strategy, tf.distribute.MirroredStrategy)
    self.assertEqual(_device_names(devices.strategy), ['CPU:0', 'CPU:1'])
    self.assertEqual((devices.num_gpus, devices.replicas,
                      devices.virtual_cpus, devices.enable_xla),
                     (0, 2, 2, True))

  def test_bad_thread_mode_names_the_flag(self):
    with self.assertRaises(distribution.DistributionError) as caught:
      distribution.make_devices(gpu_thread_mode='gpu_everything')
    self.assertIn('--tf_gpu_thread_mode', str(caught.exception))
    self.assertIn('gpu_private', str(caught.exception))

  def test_keeps_the_gpu_thread_mode_for_the_start_of_the_run(self):
    # Validation changes nothing: the run sets the mode when it starts.
    devices = distribution.make_devices(gpu_thread_mode='gpu_private')
    self.assertEqual(devices.gpu_thread_mode, 'gpu_private')
    self.assertNotIn('TF_GPU_THREAD_MODE', os.environ)
    distribution.set_gpu_thread_mode(devices.gpu_thread_mode,
                                      devices.num_gpus)
    self.assertEqual(os.environ['TF_GPU_THREAD_MODE'], 'gpu_private')
    self.assertEqual(os.environ['TF_GPU_THREAD_COUNT'], '2')


class MultiWorkerDevicesTest(tf.test.TestCase):
  """multi_worker_mirrored: described by make_devices, made at the start."""

  TF_CONFIG = {'cluster': {'chief': ['127.0.0.1:1'],
                           'worker': ['127.0.0.1:2']},
               'task': {'type': 'worker', 'index': 0}}

  def setUp(self):
    super(MultiWorkerDevicesTest, self).setUp()
    patcher = mock.patch.dict(os.environ)
    patcher.start()
    self.addCleanup(patcher.stop)
    os.environ.pop('TF_CONFIG', None)

  def test_described_not_made_one_replica_per_gpu_of_each_worker(self):
    visible = distribution.visible_gpus()
    for alg in (None, 'ring'):
      devices = distribution.make_devices(MULTI_WORKER, num_workers=3,
                                          all_reduce_alg=alg)
      self.assertIsNone(devices.strategy)
      self.assertEqual(devices.multi_worker, distribution.MultiWorker(3, alg))
      self.assertEqual((devices.num_gpus, devices.replicas),
                       (visible, 3 * max(visible, 1)))
    with self.assertRaises(distribution.DistributionError):
      distribution.get_strategy(MULTI_WORKER, 0)

  def test_errors_name_the_flag(self):
    visible = distribution.visible_gpus()
    cases = [
        (dict(), 'needs a cluster'),
        (dict(num_workers=2, num_gpus=visible + 1), '--num_gpus %d' % (
            visible + 1)),
        (dict(num_workers=2, virtual_cpus=2), '--virtual_cpus'),
        (dict(num_workers=2, all_reduce_alg='tree'), 'ring, nccl'),
    ]
    if not visible:
      cases.append((dict(num_workers=2, all_reduce_alg='nccl'),
                    '--all_reduce_alg nccl needs GPUs'))
    for kwargs, message in cases:
      with self.assertRaises(distribution.DistributionError) as caught:
        distribution.make_devices(MULTI_WORKER, **kwargs)
      self.assertIn(message, str(caught.exception), kwargs)
    for strategy in ('default', 'mirrored'):
      with self.assertRaisesRegex(distribution.DistributionError,
                                  '--all_reduce_alg goes with'):
        distribution.make_devices(strategy, all_reduce_alg='ring')

  def test_the_batch_splits_over_the_replicas_of_all_workers(self):
    self.assertEqual(distribution.per_replica_batch_size(8, 4, 2), 2)
    with self.assertRaises(distribution.DistributionError) as caught:
      distribution.per_replica_batch_size(6, 4, 2)
    self.assertEqual(str(caught.exception),
                     '--batch_size 6 does not split over 4 replicas (2 '
                     'workers x 2); use a multiple of 4')

  def test_made_when_the_run_starts_from_tf_config(self):
    self.assertIsNone(distribution.make_strategy(distribution.SINGLE_DEVICE))
    devices = distribution.make_devices(MULTI_WORKER, num_workers=2,
                                        all_reduce_alg='ring')
    with self.assertRaisesRegex(ValueError, 'TF_CONFIG'):
      distribution.make_strategy(devices)
    os.environ['TF_CONFIG'] = json.dumps(self.TF_CONFIG)
    for alg, nccl in (('ring', False), (None, False), ('nccl', True)):
      with tf.Graph().as_default():  # a graph-mode strategy starts no server
        strategy = distribution.make_strategy(
            devices._replace(multi_worker=distribution.MultiWorker(2, alg)))
        self.assertIsInstance(
            strategy, tf.distribute.experimental.MultiWorkerMirroredStrategy)
        self.assertEqual(strategy.num_replicas_in_sync, 2)
        self.assertTrue(strategy.extended.experimental_between_graph)
        self.assertFalse(strategy.extended.should_checkpoint)  # a worker
        config = tf.ConfigProto()
        strategy.configure(session_config=config)
        self.assertEqual(config.experimental.collective_nccl, nccl, alg)
        self.assertEqual(config.experimental.collective_group_leader,
                         '/job:chief/replica:0/task:0')
        # TensorFlow's scoped allocator merges the all-reduces; on the MKL
        # build it fails the first step, so it is left unset there (any
        # other value, OFF included, turns it on in TF 1.15's grappler).
        rewrite = config.graph_options.rewrite_options
        toggle = type(rewrite).Toggle
        if distribution.mkl_enabled():
          self.assertEqual(rewrite.scoped_allocator_optimization,
                           toggle.Value('DEFAULT'))
          self.assertEqual(list(rewrite.scoped_allocator_opts.enable_op), [])
        else:
          self.assertEqual(rewrite.scoped_allocator_optimization,
                           toggle.Value('ON'))
        # The same for a copy, as the distribute coordinator makes.
        copied = tf.ConfigProto()
        copy.deepcopy(strategy).configure(session_config=copied)
        self.assertEqual(copied.graph_options.rewrite_options
                         .scoped_allocator_optimization,
                         rewrite.scoped_allocator_optimization)


class CpuThreadingTest(tf.test.TestCase):
  """MKL's thread defaults on the MKL build; nothing on the stock one."""

  def setUp(self):
    super(CpuThreadingTest, self).setUp()
    patcher = mock.patch.dict(os.environ)
    patcher.start()
    self.addCleanup(patcher.stop)
    for name in ('OMP_NUM_THREADS', 'KMP_BLOCKTIME'):
      os.environ.pop(name, None)

  def test_mkl_enabled_tells_the_installed_build(self):
    import pkg_resources  # pylint: disable=g-import-not-at-top
    installed = {d.project_name.lower() for d in pkg_resources.working_set}
    self.assertEqual(distribution.mkl_enabled(),
                     'intel-tensorflow' in installed)

  def test_defaults_follow_the_build(self):
    config = tf.ConfigProto()
    distribution.set_cpu_threading(config)
    cores = distribution.cpu_cores()
    if distribution.mkl_enabled():
      self.assertEqual(config.intra_op_parallelism_threads, cores)
      self.assertEqual(config.inter_op_parallelism_threads, 1)
      self.assertEqual(os.environ['OMP_NUM_THREADS'], str(cores))
      self.assertEqual(os.environ['KMP_BLOCKTIME'], '1')
    else:
      self.assertEqual(config, tf.ConfigProto())
      self.assertNotIn('OMP_NUM_THREADS', os.environ)
      self.assertNotIn('KMP_BLOCKTIME', os.environ)
    # make_run_config applies them to every Estimator's session.
    run_config = estimator_lib.make_run_config(self.get_temp_dir())
    self.assertEqual(run_config.session_config.intra_op_parallelism_threads,
                     config.intra_op_parallelism_threads)

  def test_what_the_user_set_wins(self):
    os.environ['OMP_NUM_THREADS'] = '7'
    os.environ['KMP_BLOCKTIME'] = '30'
    config = tf.ConfigProto(intra_op_parallelism_threads=5,
                            inter_op_parallelism_threads=3)
    distribution.set_cpu_threading(config)
    self.assertEqual((config.intra_op_parallelism_threads,
                      config.inter_op_parallelism_threads), (5, 3))
    self.assertEqual((os.environ['OMP_NUM_THREADS'],
                      os.environ['KMP_BLOCKTIME']), ('7', '30'))


class SetGpuThreadModeTest(tf.test.TestCase):

  def setUp(self):
    super(SetGpuThreadModeTest, self).setUp()
    patcher = mock.patch.dict(os.environ)
    patcher.start()
    self.addCleanup(patcher.stop)
    for key in ('TF_GPU_THREAD_MODE', 'TF_GPU_THREAD_COUNT'):
      os.environ.pop(key, None)

  def test_global_leaves_the_environment_alone(self):
    before = dict(os.environ)
    self.assertEqual(distribution.set_gpu_thread_mode('global', 2), {})
    self.assertEqual(dict(os.environ), before)

  def test_private_and_shared_set_mode_and_count(self):
    for mode, threads in (('gpu_private', 2), ('gpu_shared', 3)):
      env = distribution.set_gpu_thread_mode(mode, 1, threads_per_gpu=threads)
      expected = {'TF_GPU_THREAD_MODE': mode,
                  'TF_GPU_THREAD_COUNT': str(threads)}
      self.assertEqual(env, expected)
      for key, value in expected.items():
        self.assertEqual(os.environ[key], value)

  def test_environment_is_restored_after_the_tests(self):
    # Each class whose tests may set TF_GPU_THREAD_* runs a test that sets
    # them, over a value set before: its set-up must put that value back.
    os.environ['TF_GPU_THREAD_MODE'] = 'set_before'
    before = dict(os.environ)
    for test_class in (MakeDevicesTest, SetGpuThreadModeTest):

      class SetsTheMode(test_class):

        def runTest(self):
          distribution.set_gpu_thread_mode('gpu_shared', 1)
          self.assertEqual(os.environ['TF_GPU_THREAD_MODE'], 'gpu_shared')

      result = unittest.TestResult()
      SetsTheMode().run(result)
      self.assertEqual((result.testsRun, result.errors, result.failures),
                       (1, [], []), test_class)
      changed = set(os.environ.items()) ^ set(before.items())
      self.assertEqual(changed, set(), test_class)


class ReplicasStayInSyncHook(tf.estimator.SessionRunHook):
  """Reads every variable and its '<name>/replica_1' copy at start and end.

  Attributes set for the test: `pairs` (names of mirrored variables with the
  device of each copy), `initial` and `final` ({name: (replica 0 value,
  replica 1 value)}).
  """

  def begin(self):
    graph = tf.get_default_graph()
    handles = {op.name: op for op in graph.get_operations()
               if op.type == 'VarHandleOp'}
    self.pairs = {}
    self._reads = {}
    for name, op in handles.items():
      mirror = handles.get(name + REPLICA_SUFFIX)
      if mirror is None:
        continue
      self.pairs[name] = (op.device, mirror.device)
      self._reads[name] = tuple(
          tf.raw_ops.ReadVariableOp(resource=handle.outputs[0],
                                    dtype=handle.get_attr('dtype'))
          for handle in (op, mirror))
    self.initial = self.final = None

  def after_create_session(self, session, coord):
    self.initial = session.run(self._reads)

  def end(self, session):
    self.final = session.run(self._reads)


@pytest.mark.slow
class MirroredEstimatorTest(tf.test.TestCase):
  """MirroredStrategy over two virtual CPUs, straight through Estimator."""

  def test_variables_stay_identical_across_replicas(self):
    params = params_lib.make_params(image_size=67, batch_size=2,
                                    num_classes=3)
    strategy = tf.distribute.MirroredStrategy(['/cpu:0', '/cpu:1'])
    self.assertEqual(strategy.num_replicas_in_sync, 2)
    model_dir = os.path.join(self.get_temp_dir(), 'mirrored')
    config = estimator_lib.make_run_config(
        model_dir, train_distribute=strategy, virtual_cpus=2)
    self.assertEqual(config.session_config.device_count['CPU'], 2)
    estimator = tf.estimator.Estimator(model_fn_lib.model_fn, params=params,
                                       config=config)
    hook = ReplicasStayInSyncHook()
    estimator.train(input_lib.make_synthetic_input_fn(params), hooks=[hook],
                    max_steps=3)
    self.assertEqual(estimator.get_variable_value('global_step'), 3)

    # Every trainable variable has its mirror, on the other device: the
    # check below cannot pass for want of pairs.
    trainable = sorted(model_dir_lib.model_variable_shapes(params))
    self.assertLen(trainable, 16)  # conv1-5, dense1-2, logits: kernel, bias
    self.assertEqual(sorted(n for n in hook.pairs if n in trainable),
                     trainable)
    self.assertLessEqual(set(hook.pairs), set(trainable) | {'global_step'})
    for name in trainable:
      device0, device1 = hook.pairs[name]
      self.assertEndsWith(device0.upper(), 'CPU:0')
      self.assertEndsWith(device1.upper(), 'CPU:1')

    for name in hook.pairs:
      first, second = hook.initial[name]
      self.assertAllEqual(first, second, msg='%s at the start' % name)
      first, second = hook.final[name]
      self.assertAllEqual(first, second, msg='%s after 3 steps' % name)
    # Training really happened: every weight moved on both replicas.
    for name in trainable:
      self.assertFalse(np.array_equal(hook.initial[name][0],
                                       hook.final[name][0]),
                       '%s did not change in training' % name)
    self.assertAllEqual(estimator.get_variable_value('logits/kernel'),
                        hook.final['logits/kernel'][0])


@pytest.mark.slow
class MirroredRunTest(tf.test.TestCase):
  """train.run(..., distribution_strategy='mirrored', virtual_cpus=2)."""

  @classmethod
  def setUpClass(cls):
    super(MirroredRunTest, cls).setUpClass()
    cls.root = tempfile.mkdtemp()
    cls.data_dir = os.path.join(cls.root, 'data')
    helpers.make_tree(cls.data_dir, layout='split', classes=CLASSES,
                      train_per_class=4, validation_per_class=1,
                      image_size=(30, 30))

  @classmethod
  def tearDownClass(cls):
    shutil.rmtree(cls.root, ignore_errors=True)
    super(MirroredRunTest, cls).tearDownClass()

  def _run(self, model_dir, batch_size, data_dir=None):
    return train.run(train.Options(
        'train', model_dir, data_dir=data_dir or self.data_dir,
        overrides={'image_size': 67, 'batch_size': batch_size},
        max_train_steps=2, log_every_n_steps=1,
        distribution_strategy='mirrored', virtual_cpus=2, num_gpus=0))

  def test_trains_on_two_replicas_with_half_the_batch_each(self):
    model_dir = os.path.join(self.root, 'model')
    with self.assertLogs('absl', level='INFO') as logs:
      self._run(model_dir, 4)
    log = '\n'.join(logs.output)
    self.assertRegex(log, r'Training on 2 replicas \(MirroredStrategy\w*\), 2 '
                          r'images each per step')
    checkpoint = tf.train.latest_checkpoint(model_dir)
    self.assertEqual(tf.train.load_variable(checkpoint, 'global_step'), 2)
    # One copy of each variable is saved, under the plain name.
    names = [n for n, _ in tf.train.list_variables(checkpoint)]
    self.assertIn('logits/kernel', names)
    self.assertFalse([n for n in names if 'replica' in n], names)
    # Replica 0 summarises its own input batch (up to 4 images): 2 of them.
    tags = set()
    for path in glob.glob(os.path.join(model_dir, 'events.out.*')):
      for event in tf.train.summary_iterator(path):
        tags.update(v.tag for v in event.summary.value)
    self.assertIn('input/image/1', tags)
    self.assertNotIn('input/image/2', tags)

  def test_batch_that_does_not_split_fails_before_anything_is_written(self):
    model_dir = os.path.join(self.root, 'odd_batch')
    with self.assertRaises(errors.UsageError) as caught:
      self._run(model_dir, 3)
    message = str(caught.exception)
    self.assertIn('--batch_size 3', message)
    self.assertIn('2 replicas', message)
    self.assertFalse(os.path.exists(model_dir))
    # It fails before the data is even looked at.
    with self.assertRaisesRegex(errors.UsageError, '--batch_size 3'):
      self._run(model_dir, 3, os.path.join(self.root, 'no_such_data'))
    self.assertFalse(os.path.exists(model_dir))


if __name__ == '__main__':
  tf.test.main()
