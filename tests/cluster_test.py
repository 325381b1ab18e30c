"""Tests of cluster.py and local_cluster.py (scripts/local_cluster.py):
TF_CONFIG, shares of the data, Kubeflow's TFJob manifests (docs/kubeflow/),
and real clusters of separate processes on loopback that end by themselves:
on parameter servers, and synchronous (multi_worker_mirrored)."""
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
import yaml

from alexnet_estimator import cluster
from alexnet_estimator import data as data_lib
from alexnet_estimator import distribution
from alexnet_estimator import errors
from alexnet_estimator import files
from alexnet_estimator import flags as flags_lib
from alexnet_estimator import input_fn as input_lib
from alexnet_estimator import local_cluster
from alexnet_estimator import params as params_lib
from alexnet_estimator import spec as spec_lib
from alexnet_estimator import train
from tests import helpers

FLAGS = flags.FLAGS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAUNCHER = os.path.join(ROOT, 'scripts', 'local_cluster.py')
KUBEFLOW = os.path.join(ROOT, 'docs', 'kubeflow')
MULTI_WORKER = distribution.MULTI_WORKER
# A chief and one worker, as multi_worker_mirrored trains them.
TWO_TRAINERS = {'chief': ['127.0.0.1:1'], 'worker': ['127.0.0.1:2']}
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

  def test_an_evaluator_in_or_out_of_the_cluster(self):
    # TensorFlow (and today's Kubeflow) leave the evaluator out of the
    # cluster; older Kubeflow operators list it.
    for spec in (TWO_TRAINERS, dict(TWO_TRAINERS, evaluator=['e:1'])):
      task = cluster.current_task({'TF_CONFIG': json.dumps(
          {'cluster': spec, 'task': {'type': 'evaluator', 'index': 0}})})
      self.assertEqual((task.type, task.index, task.num_trainers,
                        task.trainer_index), ('evaluator', 0, 2, None))
    with self.assertRaisesRegex(cluster.ClusterError, 'not in its cluster'):
      cluster.current_task({'TF_CONFIG': json.dumps(
          {'cluster': dict(TWO_TRAINERS, evaluator=['e:1']),
           'task': {'type': 'evaluator', 'index': 1}})})

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
    # TensorFlow's own 'Exiting evaluation' is an INFO line the log leaves
    # out (log.quiet); the package says it.
    self.assertIn('Evaluator done: the checkpoint reached step %d'
                  % last_step, logs['evaluator-0.log'])
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
          'worker', '--lr_schedule', 'plateau'], '--lr_schedule'),
        # Parameter servers, or synchronous training without them.
        (['--worker_hosts', 'a:1,b:1', '--task_type', 'worker'],
         '--distribution_strategy multi_worker_mirrored'),
        (['--worker_hosts', 'a:1', '--ps_hosts', 'p:1', '--task_type',
          'worker', '--distribution_strategy', MULTI_WORKER], '--ps_hosts'),
        (['--distribution_strategy', MULTI_WORKER], 'needs a cluster'),
        (['--worker_hosts', 'a:1,b:1', '--task_type', 'worker',
          '--distribution_strategy', MULTI_WORKER, '--warm_start_from',
          data_dir], '--warm_start_from'),
        (['--worker_hosts', 'a:1,b:1', '--task_type', 'worker',
          '--distribution_strategy', MULTI_WORKER, '--batch_size', '3'],
         '--batch_size 3 does not split over 2 replicas (2 workers x 1)'),
        (['--worker_hosts', 'a:1,b:1', '--ps_hosts', 'p:1', '--task_type',
          'worker', '--all_reduce_alg', 'ring'], '--all_reduce_alg'),
        (['--worker_hosts', 'a:1,b:1', '--task_type', 'worker',
          '--distribution_strategy', MULTI_WORKER, '--virtual_cpus', '2'],
         '--virtual_cpus')) + (() if distribution.visible_gpus() else (
             (['--worker_hosts', 'a:1,b:1', '--task_type', 'worker',
               '--distribution_strategy', MULTI_WORKER, '--all_reduce_alg',
               'nccl'], '--all_reduce_alg nccl needs GPUs'),)):
      # patch.dict: a check that let the run start would set TF_CONFIG.
      with flagsaver.flagsaver(), mock.patch.dict(os.environ):
        argv = FLAGS(['alexnet_estimator.train'] + base + args)
        with self.assertRaises(errors.UsageError) as caught:
          train.run(train.options_from_flags(argv))
      message = str(caught.exception)
      self.assertNotIn('\n', message)
      self.assertIn(flag, message)
      self.assertFalse(os.path.exists(model_dir), args)


def _tf_config(task_type, index, spec=None):
  return {'cluster': spec or TWO_TRAINERS,
          'task': {'type': task_type, 'index': index}}


class InputShareTest(tf.test.TestCase):
  """Under multi_worker_mirrored each worker reads its own share: the one
  the strategy's InputContext names, which is its task's share."""

  def _input_context(self, tf_config):
    """The InputContext the strategy of that task hands its input_fn."""
    contexts = []

    def input_fn(input_context):
      contexts.append(input_context)
      return tf.data.Dataset.range(4).batch(1)
    with mock.patch.dict(os.environ, {'TF_CONFIG': json.dumps(tf_config)}):
      with tf.Graph().as_default():
        strategy = distribution.make_strategy(distribution.make_devices(
            MULTI_WORKER, num_workers=2))
        strategy.make_input_fn_iterator(input_fn)
    self.assertLen(contexts, 1)
    return contexts[0]

  def _labels(self, input_fn, input_context, count=4):
    """The labels of the first `count` examples input_fn gives (batch 1)."""
    with tf.Graph().as_default() as graph:
      batch = tf.compat.v1.data.make_one_shot_iterator(
          input_fn(input_context)).get_next()
      with self.session(graph=graph) as sess:
        return {int(sess.run(batch)[1][0]) for _ in range(count)}

  def _tasks(self):
    return [cluster.current_task({'TF_CONFIG': json.dumps(_tf_config(t, i))})
            for t, i in (('chief', 0), ('worker', 0))]

  def test_the_strategy_names_each_worker_as_its_task_does(self):
    for task in self._tasks():
      context = self._input_context(_tf_config(task.type, task.index))
      self.assertEqual((context.num_input_pipelines,
                        context.input_pipeline_id,
                        context.num_replicas_in_sync),
                       (task.num_trainers, task.trainer_index, 2), task)

  def _check_shares(self, source):
    """Each worker's share: disjoint, all of them together, once each."""
    params = params_lib.make_params(image_size=67, batch_size=1,
                                    num_classes=4)
    shares = []
    for task in self._tasks():
      context = self._input_context(_tf_config(task.type, task.index))
      input_fn = source(task).train_input_fn(params,
                                            input_lib.SkippedFiles())
      shares.append(self._labels(input_fn, context))
      # A parameter-server task, given no context, reads the same share.
      self.assertEqual(self._labels(input_fn, None), shares[-1])
    self.assertEqual(shares, [{0, 2}, {1, 3}])
    # One machine (a strategy's single input pipeline) reads everything.
    single = tf.distribute.InputContext(1, 0, 2)
    self.assertEqual(self._labels(source(None).train_input_fn(
        params, input_lib.SkippedFiles()), single), {0, 1, 2, 3})

  def test_image_folders_are_split_once_between_the_workers(self):
    # One training image per class: a label names its file.
    data_dir = os.path.join(self.get_temp_dir(), 'folders')
    helpers.make_tree(data_dir, layout='split', classes=('a', 'b', 'c', 'd'),
                      train_per_class=1, validation_per_class=1,
                      image_size=(30, 30))
    self._check_shares(lambda task: data_lib.open_data(data_dir, task=task))

  def test_tfrecord_shards_are_split_once_between_the_workers(self):
    # One record per shard: a label names its shard.
    data_dir = os.path.join(self.get_temp_dir(), 'records')
    helpers.write_imagenet_shards(data_dir, 'train',
                                         [[1], [2], [3], [4]])
    helpers.write_imagenet_shards(data_dir, 'validation', [[1]])
    self._check_shares(lambda task: data_lib.open_data(data_dir, task=task))


def _manifest(name):
  with open(os.path.join(KUBEFLOW, name)) as f:
    return yaml.safe_load(f)


def _container(replica_spec):
  containers = replica_spec['template']['spec']['containers']
  return [c for c in containers if c['name'] == 'tensorflow'][0]


def tfjob_tf_configs(job, namespace='default', evaluator_in_cluster=False):
  """{(task type, index): TF_CONFIG} as Kubeflow's training operator sets it.

  After genClusterSpec and genTFConfigJSONStr of kubeflow/training-operator
  (pkg/controller.v1/tensorflow/tensorflow.go): each replica type, lower
  case, is a job of the cluster, but the evaluator (older operators list it
  too: `evaluator_in_cluster`); its tasks are '<job>-<type>-<index>.
  <namespace>.svc:<port>', the port the container 'tensorflow' calls
  'tfjob-port' (else 2222). Each replica's task is its type and index, and
  the environment 'cloud'.
  """
  replicas = job['spec']['tfReplicaSpecs']
  spec = {}
  for replica_type, replica_spec in replicas.items():
    task_type = replica_type.lower()
    if task_type == 'evaluator' and not evaluator_in_cluster:
      continue
    ports = [p['containerPort'] for p in _container(replica_spec).get(
        'ports', ()) if p.get('name') == 'tfjob-port'] or [2222]
    spec[task_type] = ['%s-%s-%d.%s.svc:%d' % (
        job['metadata']['name'], task_type, i, namespace, ports[0])
                       for i in range(replica_spec['replicas'])]
  return {(replica_type.lower(), i): {
      'cluster': spec, 'task': {'type': replica_type.lower(), 'index': i},
      'environment': 'cloud'}
          for replica_type, replica_spec in replicas.items()
          for i in range(replica_spec['replicas'])}


class TfJobManifestTest(tf.test.TestCase):
  """docs/kubeflow/: the TF_CONFIG each replica gets gives it its role, and
  its command line, with that TF_CONFIG, passes the package's checks."""

  MANIFESTS = {'tfjob-multi-worker.yaml': MULTI_WORKER,
               'tfjob-parameter-server.yaml': None}

  @classmethod
  def setUpClass(cls):
    super(TfJobManifestTest, cls).setUpClass()
    flags_lib.define_train_flags()

  def test_there_is_a_manifest_for_each_way_and_it_is_a_tfjob(self):
    self.assertEqual(sorted(os.listdir(KUBEFLOW)), sorted(self.MANIFESTS))
    for name, strategy in self.MANIFESTS.items():
      job = _manifest(name)
      self.assertEqual((job['apiVersion'], job['kind']),
                       ('kubeflow.org/v1', 'TFJob'), name)
      replicas = job['spec']['tfReplicaSpecs']
      self.assertEqual(replicas['Chief']['replicas'], 1, name)
      self.assertEqual(replicas['Evaluator']['replicas'], 1, name)
      self.assertEqual('PS' in replicas, strategy is None, name)
      # One command line for all, strategy included.
      args = {tuple(_container(r)['args']) for r in replicas.values()}
      self.assertLen(args, 1, name)
      args = list(args.pop())
      self.assertIn('--mode=train_and_eval', args)  # the evaluator evaluates
      self.assertEqual('--distribution_strategy=%s' % MULTI_WORKER in args,
                       strategy == MULTI_WORKER, name)
      # Every member of the cluster listens where TF_CONFIG says.
      for replica_type, replica in replicas.items():
        if replica_type != 'Evaluator':
          self.assertIn({'name': 'tfjob-port', 'containerPort': 2222},
                        _container(replica)['ports'], replica_type)

  def test_each_replica_gets_its_role(self):
    for name in self.MANIFESTS:
      job = _manifest(name)
      replicas = job['spec']['tfReplicaSpecs']
      trainers = 1 + replicas['Worker']['replicas']
      for evaluator_in_cluster in (False, True):
        configs = tfjob_tf_configs(job, 'ml', evaluator_in_cluster)
        self.assertEqual(configs[('chief', 0)]['cluster']['chief'],
                         ['%s-chief-0.ml.svc:2222' % job['metadata']['name']])
        for (task_type, index), config in configs.items():
          task = cluster.current_task({'TF_CONFIG': json.dumps(config)})
          self.assertEqual((task.type, task.index), (task_type, index))
          self.assertEqual(task.num_trainers, trainers)
          self.assertEqual(task.trainer_index, {
              'chief': 0, 'worker': 1 + index}.get(task_type), task)
        self.assertEqual(sorted(t for t, _ in configs),
                         sorted(['chief', 'evaluator'] +
                                ['worker'] * (trainers - 1) +
                                ['ps'] * ('PS' in replicas)))

  def test_each_replica_passes_the_checks_with_its_tf_config(self):
    root = self.get_temp_dir()
    data_dir = os.path.join(root, 'data')
    helpers.make_tree(data_dir, layout='split', classes=('a', 'b'),
                      train_per_class=2, validation_per_class=1,
                      image_size=(30, 30))
    gpus = distribution.visible_gpus()
    for name, strategy in self.MANIFESTS.items():
      job = _manifest(name)
      model_dir = os.path.join(root, name)
      args = [a for a in _container(job['spec']['tfReplicaSpecs']['Chief'])[
          'args'] if not a.startswith(('--data_dir', '--model_dir'))]
      args += ['--data_dir', data_dir, '--model_dir', model_dir]
      for (task_type, index), config in tfjob_tf_configs(job).items():
        spec = self._resolve(args, config)
        if isinstance(spec, errors.UsageError):
          # NCCL all-reduces between GPUs: a trainer without one refuses it.
          self.assertFalse(gpus)
          self.assertEqual((strategy, task_type != 'evaluator'),
                           (MULTI_WORKER, True), spec)
          self.assertIn('--all_reduce_alg nccl needs GPUs', str(spec))
          spec = self._resolve([a for a in args
                                if a != '--all_reduce_alg=nccl'], config)
        self.assertEqual((spec.task.type, spec.task.index),
                         (task_type, index))
        multi_worker = spec.devices.multi_worker
        if strategy == MULTI_WORKER and task_type != 'evaluator':
          self.assertEqual(multi_worker.num_workers, 2)
          self.assertEqual(spec.devices.replicas, 2 * max(gpus, 1))
          self.assertEqual(spec_lib.per_replica_params(
              spec.params, spec.devices)['batch_size'],
                           256 // spec.devices.replicas)
        else:  # on parameter servers, or the evaluator: one device
          self.assertIsNone(multi_worker)
          self.assertEqual(spec.devices.replicas, 1)
      self.assertFalse(os.path.exists(model_dir))  # the checks write nothing

  def _resolve(self, args, tf_config):
    """spec.resolve of `args` under TF_CONFIG, or the UsageError it raised."""
    with flagsaver.flagsaver(), mock.patch.dict(
        os.environ, {'TF_CONFIG': json.dumps(tf_config)}):
      argv = FLAGS(['alexnet_estimator.train'] + list(args))
      try:
        return spec_lib.resolve(train.options_from_flags(argv))
      except errors.UsageError as e:
        return e


class LocalClusterCommandTest(tf.test.TestCase):

  def test_multi_worker_tasks_get_the_strategy_and_no_ps(self):
    workers = ['127.0.0.1:1', '127.0.0.1:2']
    command = local_cluster.task_command(['--model_dir', 'm'], workers, [],
                                         'worker', 1, MULTI_WORKER)
    self.assertEqual(command[command.index('--distribution_strategy') + 1],
                     MULTI_WORKER)
    self.assertNotIn('--ps_hosts', command)
    self.assertNotIn('--distribution_strategy', local_cluster.task_command(
        ['--model_dir', 'm'], workers, ['127.0.0.1:3'], 'worker', 1))
    self.assertEqual(local_cluster.tasks(1, 0), [
        ('worker', 0), ('worker', 1), ('evaluator', 0)])

  def test_bad_launcher_flags_stop_it_before_any_task(self):
    for args in (['--strategy', MULTI_WORKER, '--num_ps', '1'],
                 ['--strategy', MULTI_WORKER, '--', '--model_dir', 'm',
                  '--distribution_strategy', 'mirrored'],
                 ['--num_ps', '0'],
                 ['--strategy', 'gossip']):
      with mock.patch.object(local_cluster, 'start_task') as start:
        with self.assertRaises(SystemExit) as caught:
          local_cluster.main(args + ([] if '--' in args else
                                     ['--', '--model_dir', 'm']))
      self.assertEqual(caught.exception.code, 2, args)
      start.assert_not_called()


@pytest.mark.slow
class MultiWorkerClusterTest(tf.test.TestCase):
  """Synchronous training: the chief, a worker and an evaluator on loopback.

  Each training task writes a digest of its variables after every step
  (cluster.DIGEST_DIR_ENV): the two must agree at every step.
  """

  def setUp(self):
    super(MultiWorkerClusterTest, self).setUp()
    self.root = self.get_temp_dir()
    self.data_dir = os.path.join(self.root, 'data')
    self.model_dir = os.path.join(self.root, 'run')
    self.log_dir = os.path.join(self.root, 'logs')
    self.digest_dir = os.path.join(self.root, 'digests')
    os.makedirs(self.digest_dir)
    helpers.make_tree(self.data_dir, layout='split', classes=('a', 'b'),
                      train_per_class=8, validation_per_class=2,
                      image_size=(40, 40))
    self.addCleanup(self._kill_leftovers)

  def _kill_leftovers(self):
    """Kills any task still running (the launcher was killed, say)."""
    for pid in _processes_using(self.model_dir):
      try:
        os.kill(pid, signal.SIGKILL)
      except OSError:
        pass

  def _digests(self, name):
    with open(os.path.join(self.digest_dir, name + '.jsonl')) as f:
      return [json.loads(line) for line in f]

  def test_two_workers_stay_identical_every_step_and_all_end(self):
    last_step = 3
    env = dict(os.environ, **{cluster.DIGEST_DIR_ENV: self.digest_dir})
    started = time.time()
    proc = subprocess.run(
        [sys.executable, LAUNCHER, '--strategy', MULTI_WORKER,
         '--num_workers', '1', '--log_dir', self.log_dir,
         '--timeout_secs', str(TIMEOUT_SECS), '--',
         '--data_dir', self.data_dir, '--model_dir', self.model_dir,
         '--mode', 'train_and_eval', '--max_train_steps', str(last_step),
         '--steps_between_evals', str(last_step)] + TINY,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
        universal_newlines=True, timeout=TIMEOUT_SECS + 60)
    logs = {os.path.basename(p): open(p).read()
            for p in glob.glob(os.path.join(self.log_dir, '*.log'))}
    self.assertEqual(proc.returncode, 0, proc.stdout + json.dumps(logs))
    self.assertEqual(sorted(logs), ['chief-0.log', 'evaluator-0.log',
                                    'worker-0.log'])  # no ps
    for name in logs:
      self.assertIn('%s exited with 0' % name[:-4], proc.stdout)
    self.assertEqual(_processes_using(self.model_dir), [])
    for name in ('chief-0.log', 'worker-0.log'):
      # --batch_size 4 is global: 2 images per replica.
      self.assertIn('Synchronous training on 2 replicas of 2 workers, 2 '
                    'images each per step', logs[name])
      self.assertNotIn('Traceback', logs[name])

    # Read from both: the same variables before the first step and after
    # each, and every step changed them.
    chief, worker = self._digests('chief-0'), self._digests('worker-0')
    self.assertEqual([d['step'] for d in chief], list(range(last_step + 1)))
    self.assertEqual(chief, worker)
    self.assertLen({d['digest'] for d in chief}, last_step + 1)
    # The global step counts the steps each worker took, all of them.
    checkpoint = tf.train.latest_checkpoint(self.model_dir)
    self.assertEqual(tf.train.load_variable(checkpoint, 'global_step'),
                     last_step)
    for task_type in ('chief', 'worker'):
      marker = cluster.read_marker(self.model_dir, task_type, 0)
      self.assertEqual(marker['steps_run'], last_step, task_type)
      self.assertGreater(marker['time'], started)
    # The chief saved what both held; the worker saved no checkpoint.
    names = sorted(n for n, _ in tf.train.list_variables(checkpoint))
    self.assertLen(names, chief[-1]['variables'])
    self.assertEqual(cluster.variables_digest(
        names, [tf.train.load_variable(checkpoint, n) for n in names]),
                     chief[-1]['digest'])
    self.assertEqual(glob.glob(os.path.join(self.model_dir, '*', 'model.*')),
                     [])

    # The evaluator evaluated the last checkpoint, on its own.
    evaluated = set()
    for event_file in glob.glob(os.path.join(self.model_dir, 'eval',
                                             'events.*')):
      for event in tf.compat.v1.train.summary_iterator(event_file):
        if any(v.tag == 'accuracy' for v in event.summary.value):
          evaluated.add(event.step)
    self.assertIn(last_step, evaluated)
    self.assertIn('Evaluator done', logs['evaluator-0.log'])


if __name__ == '__main__':
  tf.test.main()
