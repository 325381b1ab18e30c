"""Tests of cluster.py and local_cluster.py (scripts/local_cluster.py):
TF_CONFIG, shards, and a real cluster of separate processes on loopback that
ends by itself."""
import glob
import json
import os
import signal
import subprocess
import sys
import time
from unittest import mock

from absl import flags
from absl.testing import flagsaver
import pytest
import tensorflow as tf

from alexnet_estimator import cluster
from alexnet_estimator import errors
from alexnet_estimator import files
from alexnet_estimator import flags as flags_lib
from alexnet_estimator import local_cluster
from alexnet_estimator import train
from tests import helpers

FLAGS = flags.FLAGS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAUNCHER = os.path.join(ROOT, 'scripts', 'local_cluster.py')
TIMEOUT_SECS = 300  # a bound, far above the ~30 s a cluster takes here
TINY = ['--image_size', '67', '--batch_size', '4', '--log_every_n_steps', '5',
        '--train_epochs', '1000']  # --max_train_steps decides


def _alive(pid):
  """True if `pid` runs (a zombie counts as ended)."""
  try:
    with open('/proc/%d/stat' % pid) as f:
      return f.read().split(')')[-1].split()[0] != 'Z'
  except IOError:
    return False


def _processes_using(path):
  """PIDs of live processes whose command line mentions `path`."""
  pids = []
  for stat in glob.glob('/proc/[0-9]*/cmdline'):
    try:
      with open(stat, 'rb') as f:
        if path.encode() in f.read():
          pid = int(stat.split('/')[2])
          if _alive(pid):
            pids.append(pid)
    except IOError:
      pass
  return pids


class TfConfigTest(tf.test.TestCase):

  def test_flags_write_the_classic_tf1_layout(self):
    workers = ['a:1', 'b:2', 'c:3']
    config = cluster.tf_config_from_flags(workers, ['p:9'], 'worker', 0)
    self.assertEqual(config['cluster'], {'chief': ['a:1'],
                                         'worker': ['b:2', 'c:3'],
                                         'ps': ['p:9']})
    self.assertEqual(config['task'], {'type': 'chief', 'index': 0})
    self.assertEqual(cluster.tf_config_from_flags(
        workers, ['p:9'], 'worker', 2)['task'], {'type': 'worker', 'index': 1})
    self.assertEqual(cluster.tf_config_from_flags(
        workers, ['p:9'], 'chief', 0)['task'], {'type': 'chief', 'index': 0})
    self.assertEqual(cluster.tf_config_from_flags(
        workers, ['p:9'], 'ps', 0)['task'], {'type': 'ps', 'index': 0})
    evaluator = cluster.tf_config_from_flags(workers, ['p:9'], 'evaluator', 0)
    self.assertEqual(evaluator['task'], {'type': 'evaluator', 'index': 0})
    self.assertNotIn('evaluator', evaluator['cluster'])

  def test_bad_flags_name_the_flag(self):
    for args, flag in (((['a:1'], [], 'worker', 1), '--task_index'),
                       ((['a:1'], ['p:1'], 'ps', 1), '--task_index'),
                       ((['a'], [], 'worker', 0), '--worker_hosts'),
                       (([], ['p:1'], 'ps', 0), '--worker_hosts'),
                       ((['a:1'], [], 'chief', 1), '--task_index'),
                       ((['a:1'], [], 'master', 0), '--task_type')):
      with self.assertRaisesRegex(cluster.ClusterError, flag):
        cluster.tf_config_from_flags(*args)

  def test_current_task_reads_tf_config(self):
    spec = {'chief': ['a:1'], 'worker': ['b:1', 'c:1'], 'ps': ['p:1']}
    def task(type_, index):
      return cluster.current_task({'TF_CONFIG': json.dumps(
          {'cluster': spec, 'task': {'type': type_, 'index': index}})})
    self.assertIsNone(cluster.current_task({}))
    self.assertIsNone(cluster.current_task({'TF_CONFIG': '{}'}))
    self.assertEqual(task('chief', 0).trainer_index, 0)
    self.assertEqual(task('worker', 1).trainer_index, 2)
    self.assertEqual(task('worker', 1).num_trainers, 3)
    self.assertIsNone(task('ps', 0).trainer_index)
    self.assertIsNone(task('evaluator', 0).trainer_index)
    with self.assertRaisesRegex(cluster.ClusterError, 'not in its cluster'):
      task('worker', 2)
    with self.assertRaisesRegex(cluster.ClusterError, 'not JSON'):
      cluster.current_task({'TF_CONFIG': '{'})

  def test_each_trainer_reads_its_own_part_of_the_data(self):
    spec = {'chief': ['a:1'], 'worker': ['b:1', 'c:1'], 'ps': ['p:1']}
    items = list(range(10))
    parts = [cluster.shard(items, cluster.Task(t, i, spec, 3, k))
             for t, i, k in (('chief', 0, 0), ('worker', 0, 1),
                             ('worker', 1, 2))]
    self.assertEqual(sorted(sum(parts, [])), items)  # all, none twice
    self.assertEqual(parts[0], [0, 3, 6, 9])
    evaluator = cluster.Task('evaluator', 0, spec, 3, None)
    self.assertEqual(cluster.shard(items, evaluator), items)
    self.assertEqual(cluster.shard(items, None), items)

  def test_markers_count_only_this_runs_finished_trainers(self):
    model_dir = self.get_temp_dir()
    spec = {'chief': ['a:1'], 'worker': ['b:1'], 'ps': ['p:1']}
    ps = cluster.Task('ps', 0, spec, 2, None)
    chief = cluster.Task('chief', 0, spec, 2, 0)
    worker = cluster.Task('worker', 0, spec, 2, 1)
    start = time.time()
    self.assertEqual(cluster.trainers_done(model_dir, ps, 10, start), 0)
    cluster.mark_done(model_dir, chief, 10, 7)
    self.assertEqual(cluster.trainers_done(model_dir, ps, 10, start), 1)
    self.assertEqual(cluster.trainers_done(model_dir, ps, 20, start), 0)
    self.assertEqual(
        cluster.trainers_done(model_dir, ps, 10, time.time() + 1), 0)
    cluster.mark_done(model_dir, worker, 10, 3)
    self.assertEqual(cluster.trainers_done(model_dir, ps, 10, start), 2)
    self.assertEqual(cluster.read_marker(model_dir, 'worker', 0)['steps_run'],
                     3)


@pytest.mark.slow
class LocalClusterTest(tf.test.TestCase):
  """1 ps, the chief, 1 worker and an evaluator, as separate processes."""

  def setUp(self):
    super(LocalClusterTest, self).setUp()
    self.root = self.get_temp_dir()
    self.data_dir = os.path.join(self.root, 'data')
    helpers.make_tree(self.data_dir, layout='split', classes=('a', 'b'),
                      train_per_class=8, validation_per_class=2,
                      image_size=(40, 40))

  def assertNothingLeftRunning(self, model_dir):
    self.assertEqual(_processes_using(model_dir), [])

  def test_cluster_trains_evaluates_and_ends_by_itself(self):
    model_dir = os.path.join(self.root, 'run')
    log_dir = os.path.join(self.root, 'logs')
    last_step = 40
    proc = subprocess.run(
        [sys.executable, LAUNCHER, '--log_dir', log_dir,
         '--timeout_secs', str(TIMEOUT_SECS), '--',
         '--data_dir', self.data_dir, '--model_dir', model_dir,
         '--mode', 'train_and_eval', '--max_train_steps', str(last_step),
         '--steps_between_evals', '10'] + TINY,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        universal_newlines=True, timeout=TIMEOUT_SECS + 60)
    logs = {os.path.basename(p): open(p).read()
            for p in glob.glob(os.path.join(log_dir, '*.log'))}
    self.assertEqual(proc.returncode, 0, proc.stdout + json.dumps(logs))
    self.assertEqual(sorted(logs), ['chief-0.log', 'evaluator-0.log',
                                    'ps-0.log', 'worker-0.log'])
    for name in logs:
      self.assertIn('%s exited with 0' % name[:-4], proc.stdout)
    self.assertNothingLeftRunning(model_dir)

    # Both trainers advanced the one shared global step.
    chief = cluster.read_marker(model_dir, 'chief', 0)
    worker = cluster.read_marker(model_dir, 'worker', 0)
    self.assertGreater(chief['steps_run'], 0)
    self.assertGreater(worker['steps_run'], 0)
    final = tf.train.load_variable(tf.train.latest_checkpoint(model_dir),
                                   'global_step')
    self.assertGreaterEqual(final, last_step)
    # Asynchronous updates: the global step counts every step of both, bar
    # the few that raced past the last step.
    self.assertBetween(chief['steps_run'] + worker['steps_run'], final,
                       final + 2)
    # The chief wrote checkpoints along the way (every 10 steps), not only
    # at the end.
    steps = sorted(int(p.split('-')[-1].split('.')[0]) for p in glob.glob(
        os.path.join(model_dir, 'model.ckpt-*.index')))
    self.assertGreaterEqual(len([s for s in steps if 0 < s < last_step]), 2)

    # The evaluator evaluated checkpoints, the last one at the end.
    evaluated = {}
    for event_file in glob.glob(os.path.join(model_dir, 'eval', 'events.*')):
      for event in tf.compat.v1.train.summary_iterator(event_file):
        for value in event.summary.value:
          if value.tag == 'accuracy':
            evaluated[event.step] = value.simple_value
    self.assertGreaterEqual(len(evaluated), 2)
    self.assertGreaterEqual(max(evaluated), last_step)
    self.assertIn('Exiting evaluation', logs['evaluator-0.log'])
    self.assertIn('parameter server ends', logs['ps-0.log'])

  def test_killed_worker_restarts_and_training_finishes(self):
    model_dir = os.path.join(self.root, 'run')
    log_dir = os.path.join(self.root, 'logs')
    os.makedirs(log_dir)
    last_step = 120
    train_args = ['--data_dir', self.data_dir, '--model_dir', model_dir,
                  '--mode', 'train', '--max_train_steps', str(last_step),
                  '--save_checkpoints_steps', '20'] + TINY
    worker_hosts, ps_hosts = local_cluster.cluster_hosts(1, 1)
    procs = {}
    def start(task_type, index):
      name = local_cluster.log_name(task_type, index)
      command = local_cluster.task_command(train_args, worker_hosts, ps_hosts,
                                           task_type, index)
      procs[name] = local_cluster.start_task(command,
                                             os.path.join(log_dir, name))
      return procs[name]
    try:
      for task_type, index in local_cluster.tasks(1, 1, evaluator=False):
        start(task_type, index)
      worker_log = os.path.join(log_dir, 'worker-0.log')
      deadline = time.time() + TIMEOUT_SECS
      # Kill the worker once it has logged training progress.
      while time.time() < deadline:
        with open(worker_log) as f:
          if 'images/sec' in f.read():
            break
        self.assertIsNone(procs['worker-0.log'].poll(),
                          'the worker ended before it could be killed')
        time.sleep(0.2)
      else:
        self.fail('the worker logged no progress in %ds' % TIMEOUT_SECS)
      os.killpg(procs['worker-0.log'].pid, signal.SIGKILL)
      procs['worker-0.log'].wait()
      self.assertEqual(procs['worker-0.log'].returncode, -signal.SIGKILL)
      self.assertIsNone(cluster.read_marker(model_dir, 'worker', 0))
      killed_at = time.time()
      # It was killed mid-way: training goes on without it.
      self.assertLess(files.checkpoint_step(model_dir), last_step)
      start('worker', 1)  # the same worker, on the same port
      codes = local_cluster.wait(procs, TIMEOUT_SECS)
    finally:
      local_cluster.kill(list(procs.values()))
    logs = {n: open(os.path.join(log_dir, n)).read() for n in procs}
    self.assertEqual(codes, {n: 0 for n in procs}, json.dumps(logs))
    final = tf.train.load_variable(tf.train.latest_checkpoint(model_dir),
                                   'global_step')
    self.assertGreaterEqual(final, last_step)
    marker = cluster.read_marker(model_dir, 'worker', 0)
    self.assertGreater(marker['time'], killed_at)  # the restarted worker's
    self.assertIn('parameter server ends', logs['ps-0.log'])
    self.assertNothingLeftRunning(model_dir)


class ClusterFlagsTest(tf.test.TestCase):
  """Bad cluster flags, run in-process as train.main runs them.

  Each is refused before any work. tests/train_test.py keeps the subprocess
  check of the one-line stderr contract.
  """

  @classmethod
  def setUpClass(cls):
    super(ClusterFlagsTest, cls).setUpClass()
    flags_lib.define_train_flags()

  def test_bad_cluster_flags_are_refused_before_any_work(self):
    model_dir = os.path.join(self.get_temp_dir(), 'never')
    data_dir = self.get_temp_dir()
    base = ['--data_dir', data_dir, '--model_dir', model_dir]
    for args, flag in (
        (['--worker_hosts', 'a:1'], '--task_type'),
        (['--worker_hosts', 'a:1', '--task_type', 'worker', '--task_index',
          '3'], '--task_index'),
        (['--worker_hosts', 'a:1', '--task_type', 'ps'], '--ps_hosts'),
        (['--worker_hosts', 'a:1', '--ps_hosts', 'p:1', '--task_type',
          'worker', '--mode', 'eval'], 'train_and_eval'),
        (['--worker_hosts', 'a:1', '--ps_hosts', 'p:1', '--task_type',
          'evaluator', '--mode', 'train'], 'train_and_eval'),
        (['--worker_hosts', 'a:1', '--ps_hosts', 'p:1', '--task_type',
          'worker', '--distribution_strategy', 'mirrored'],
         '--distribution_strategy'),
        (['--worker_hosts', 'a:1', '--ps_hosts', 'p:1', '--task_type',
          'worker', '--lr_schedule', 'plateau'], '--lr_schedule')):
      # patch.dict: a check that let the run start would set TF_CONFIG.
      with flagsaver.flagsaver(), mock.patch.dict(os.environ):
        argv = FLAGS(['alexnet_estimator.train'] + base + args)
        with self.assertRaises(errors.UsageError) as caught:
          train.run(train.options_from_flags(argv))
      message = str(caught.exception)
      self.assertNotIn('\n', message)
      self.assertIn(flag, message)
      self.assertFalse(os.path.exists(model_dir), args)


if __name__ == '__main__':
  tf.test.main()
