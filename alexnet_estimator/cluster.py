"""Several machines: TF_CONFIG, each task's role, and how every task ends.

TensorFlow's own distributed runtime does the work: `tf.estimator.RunConfig`
reads the `TF_CONFIG` environment variable and `tf.estimator.train_and_evaluate`
runs the task it names, in one of two ways:

  * parameter servers (the default): between-graph replication, variables on
    the ps tasks, asynchronous updates from the chief and the workers;
  * --distribution_strategy multi_worker_mirrored: synchronous training, no
    ps; every worker holds all variables and the gradients are all-reduced
    each step (distribution.py makes the strategy).

Either way an evaluator, which is not part of the cluster, evaluates each new
checkpoint. A TF_CONFIG for a chief, one worker and one parameter server is

  {"cluster": {"chief": ["host0:2222"], "worker": ["host1:2222"],
               "ps": ["host2:2222"]},
   "task": {"type": "worker", "index": 0}}

`--worker_hosts`/`--ps_hosts`/`--task_type`/`--task_index` write it as classic
TF1 scripts spell it: the first of --worker_hosts is the chief. Kubeflow's
TFJob writes it for each replica (docs/kubeflow/).

What TensorFlow leaves to us:
  * each training task reads its own part of the data (`shard`; under
    multi_worker_mirrored the strategy's InputContext names the same part);
  * a parameter server's `train_and_evaluate` joins its server forever. Ours
    (`run_ps`) serves until every training task has written its done marker
    into model_dir (or the final checkpoint exists and the others have had
    time to finish), then ends, so a cluster ends by itself;
  * a multi-worker task that is done must keep serving its peers until they
    are done too (`wait_for_trainers`): the last all-reduce may still read
    from it.
"""
import atexit
import collections
import hashlib
import json
import os
import sys
import time

from absl import logging
import numpy as np
import tensorflow as tf
from tensorflow.python.distribute import distribute_coordinator

from alexnet_estimator import files

TASK_TYPES = ('chief', 'worker', 'ps', 'evaluator')
DONE_DIR = 'cluster_done'
# Test-only: a folder into which each training task writes a digest of its
# variables after every step (VariableDigestHook), when this environment
# variable names one.
DIGEST_DIR_ENV = 'ALEXNET_ESTIMATOR_TEST_DIGEST_DIR'


class ClusterError(ValueError):
  """TF_CONFIG or the cluster flags are wrong; the message names them."""


# The fields: `type`, one of TASK_TYPES; `index`, within the type; `cluster`,
# {job: [hosts]}; `num_trainers`, chief + workers; `trainer_index`, 0 for the
# chief, 1 + index for a worker, None for ps and evaluator.
Task = collections.namedtuple('Task', ['type', 'index', 'cluster',
                                       'num_trainers', 'trainer_index'])


def tf_config_from_flags(worker_hosts, ps_hosts, task_type, task_index):
  """The TF_CONFIG dict the classic TF1 flags describe.

  Args:
    worker_hosts: list of 'host:port'; the first is the chief.
    ps_hosts: list of 'host:port' of the parameter servers.
    task_type: 'worker' (worker 0 is the chief; 'chief' is accepted for it),
      'ps' or 'evaluator'.
    task_index: index into worker_hosts (worker) or ps_hosts (ps); 0 for the
      evaluator.

  Raises:
    ClusterError: the flags do not describe a task of the cluster.
  """
  if not worker_hosts:
    raise ClusterError('--worker_hosts is needed with --task_type')
  for host in list(worker_hosts) + list(ps_hosts):
    if ':' not in host:
      raise ClusterError('--worker_hosts/--ps_hosts: %r is not host:port'
                         % host)
  cluster = {'chief': [worker_hosts[0]]}
  if len(worker_hosts) > 1:
    cluster['worker'] = list(worker_hosts[1:])
  if ps_hosts:
    cluster['ps'] = list(ps_hosts)
  if task_type == 'chief':
    task_type = 'worker'
    if task_index:
      raise ClusterError('--task_type chief takes --task_index 0')
  if task_type == 'worker':
    if not 0 <= task_index < len(worker_hosts):
      raise ClusterError('--task_index %d: --worker_hosts has %d hosts'
                         % (task_index, len(worker_hosts)))
    task = ({'type': 'chief', 'index': 0} if task_index == 0 else
            {'type': 'worker', 'index': task_index - 1})
  elif task_type == 'ps':
    if not 0 <= task_index < len(ps_hosts):
      raise ClusterError('--task_index %d: --ps_hosts has %d hosts'
                         % (task_index, len(ps_hosts)))
    task = {'type': 'ps', 'index': task_index}
  elif task_type == 'evaluator':
    if task_index:
      raise ClusterError('--task_type evaluator takes --task_index 0')
    task = {'type': 'evaluator', 'index': 0}
  else:
    raise ClusterError('--task_type must be worker, chief, ps or evaluator, '
                       'got %r' % (task_type,))
  return {'cluster': cluster, 'task': task}


def current_task(environ=None):
  """This process's Task from TF_CONFIG, or None when there is no cluster.

  Raises:
    ClusterError: TF_CONFIG is not JSON or names no task of its cluster.
  """
  raw = (os.environ if environ is None else environ).get('TF_CONFIG')
  if not raw:
    return None
  try:
    config = json.loads(raw)
  except ValueError as e:
    raise ClusterError('TF_CONFIG is not JSON: %s' % e)
  cluster = config.get('cluster') or {}
  task = config.get('task') or {}
  task_type, index = task.get('type'), task.get('index', 0)
  if not cluster:
    return None  # a TF_CONFIG without a cluster means one machine
  if task_type not in TASK_TYPES:
    raise ClusterError('TF_CONFIG task type must be one of %s, got %r'
                       % (', '.join(TASK_TYPES), task_type))
  if 'chief' not in cluster:
    raise ClusterError('TF_CONFIG has no chief in its cluster')
  # The evaluator may be listed in the cluster (older Kubeflow TFJobs list
  # it) or not (TensorFlow's and today's TFJob's way): it works alone.
  if (task_type != 'evaluator' or 'evaluator' in cluster) and not (
      0 <= index < len(cluster.get(task_type, ()))):
    raise ClusterError('TF_CONFIG task %s %d is not in its cluster %s'
                       % (task_type, index, json.dumps(cluster)))
  num_trainers = len(cluster['chief']) + len(cluster.get('worker', ()))
  trainer_index = {'chief': 0, 'worker': 1 + index}.get(task_type)
  return Task(task_type, index, cluster, num_trainers, trainer_index)


def shard(items, task):
  """This training task's part of `items`: every num_trainers-th one."""
  if task is None or task.trainer_index is None:
    return list(items)
  return list(items)[task.trainer_index::task.num_trainers]


def _marker(model_dir, task_type, index):
  return os.path.join(model_dir, DONE_DIR, '%s-%d' % (task_type, index))


def mark_done(model_dir, task, last_step, steps_run):
  """Tells the parameter servers this training task reached `last_step`.

  `steps_run`, the steps this process ran itself, goes into the marker too:
  the log of who did how much of the shared global step.
  """
  files.write_json(_marker(model_dir, task.type, task.index),
                   {'last_step': last_step, 'time': time.time(),
                    'steps_run': steps_run})


def read_marker(model_dir, task_type, index):
  """The done marker of a training task (a dict), or None."""
  try:
    return files.read_json(_marker(model_dir, task_type, index))
  except ValueError:
    return None


def _done(model_dir, task_type, index, last_step, since):
  """True if that task's marker says it reached last_step after `since`."""
  marker = read_marker(model_dir, task_type, index)
  return (marker is not None and marker['last_step'] >= last_step and
          marker['time'] >= since)


def trainers_done(model_dir, task, last_step, since):
  """How many of the chief and workers marked `last_step` after `since`."""
  names = [('chief', i) for i in range(len(task.cluster['chief']))]
  names += [('worker', i) for i in range(len(task.cluster.get('worker', ())))]
  return sum(_done(model_dir, t, i, last_step, since) for t, i in names)


def wait_for_trainers(model_dir, task, last_step, since, timeout_secs=60.0,
                      poll_secs=0.5):
  """Waits until every training task marked `last_step` after `since`.

  A multi-worker task calls it once it has marked itself done: its server
  then keeps serving the peers whose last all-reduce still reads from it.

  Returns:
    True if they all did; False after `timeout_secs` (a peer died), with a
    warning.
  """
  deadline = time.time() + timeout_secs
  while True:
    done = trainers_done(model_dir, task, last_step, since)
    if done == task.num_trainers:
      return True
    if time.time() > deadline:
      logging.warning('Only %d of %d training tasks said they reached step %d '
                      'within %ds: ending anyway.', done, task.num_trainers,
                      last_step, timeout_secs)
      return False
    time.sleep(poll_secs)


def release_collective_server():
  """Lets go of the server TensorFlow started for this multi-worker task.

  TensorFlow 1.15 cannot stop a server: Server.__del__ asks and is told
  "Unimplemented", which it ignores; but at interpreter exit, when it runs
  after TensorFlow's modules are torn down, that turns into an "Exception
  ignored" traceback in every worker's log. Letting go while the modules are
  alive keeps the log clean; the server serves until the process ends, as
  before. Nothing happens if TensorFlow keeps it elsewhere.
  """
  local = getattr(distribute_coordinator, '_thread_local', None)
  if getattr(local, 'server', None) is not None:
    local.server = None


def variables_digest(names, values):
  """SHA-256 (hex) of variables: each name, then its value's bytes, in order.

  Args:
    names: the variables' names, sorted.
    values: their numpy values, in the same order.
  """
  digest = hashlib.sha256()
  for name, value in zip(names, values):
    digest.update(name.encode('utf-8'))
    digest.update(np.ascontiguousarray(value).tobytes())
  return digest.hexdigest()


class VariableDigestHook(tf.estimator.SessionRunHook):
  """Test-only: a SHA-256 of this task's variables after every step.

  Appends one JSON line per step to `path`, {"step": global step, "digest":
  hex}, and one before the first step: tests compare the files of two
  workers, step by step. Every global variable counts (weights, optimizer
  slots, the global step), each under its name. It runs one extra read per
  step, after the step, so the values are those the step left.
  """

  def __init__(self, path):
    self._path = path

  def begin(self):
    variables = sorted(tf.global_variables(), key=lambda v: v.op.name)
    self._names = [v.op.name for v in variables]
    self._reads = [tf.identity(v) for v in variables]
    self._step = tf.train.get_global_step()

  def _write(self, session):
    step, values = session.run([self._step, self._reads])
    with open(self._path, 'a') as f:
      f.write(json.dumps({'step': int(step),
                          'digest': variables_digest(self._names, values),
                          'variables': len(self._names)}) + '\n')

  def after_create_session(self, session, coord):
    del coord  # unused
    self._write(session)

  def after_run(self, run_context, run_values):
    del run_values  # unused
    self._write(run_context.session)


def digest_hooks(task, environ=None):
  """[VariableDigestHook] if DIGEST_DIR_ENV names a folder, else []."""
  folder = (os.environ if environ is None else environ).get(DIGEST_DIR_ENV)
  if not folder:
    return []
  return [VariableDigestHook(os.path.join(
      folder, '%s-%d.jsonl' % (task.type, task.index)))]


def _leave_without_destroying(server):
  """Ends the process with its exit as usual, but never destroys `server`.

  TF 1.15 cannot stop a server, and its destructor aborts the process; so
  the process keeps it until the end, and leaves through os._exit once the
  interpreter's exit handlers run (after main has returned).
  """
  def _exit():
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # pylint: disable=protected-access
  _KEPT_SERVERS.append(server)
  atexit.register(_exit)


# Servers that must outlive the process's own clean-up (see run_ps).
_KEPT_SERVERS = []


def run_ps(task, model_dir, last_step, session_config=None, poll_secs=2.0,
           grace_secs=60.0):
  """Serves variables until training is over; the process then ends cleanly.

  Over means: every chief and worker marked itself done for `last_step`, or
  the chief's checkpoint reached `last_step` more than `grace_secs` ago (a
  worker that died for good must not keep the cluster up).
  """
  started = time.time()
  server = tf.distribute.Server(
      tf.train.ClusterSpec(task.cluster), job_name='ps',
      task_index=task.index, config=session_config, start=True)
  logging.info('Parameter server %d serving at %s until step %d.', task.index,
               server.target, last_step)
  final_seen = None
  while True:
    done = trainers_done(model_dir, task, last_step, started)
    if done == task.num_trainers:
      logging.info('All %d training tasks reached step %d: the parameter '
                   'server ends.', done, last_step)
      _leave_without_destroying(server)
      return
    if final_seen is None and files.checkpoint_step(model_dir) >= last_step:
      final_seen = time.time()
    if final_seen is not None and time.time() - final_seen > grace_secs:
      logging.warning('The checkpoint reached step %d %ds ago but only %d of '
                      '%d training tasks said they are done: the parameter '
                      'server ends.', last_step, grace_secs, done,
                      task.num_trainers)
      _leave_without_destroying(server)
      return
    time.sleep(poll_secs)
