r"""Starts a TensorFlow cluster of separate processes on 127.0.0.1, to try it.

  python scripts/local_cluster.py --num_workers 1 --num_ps 1 -- \
      --data_dir demo_data --model_dir /tmp/cluster_run --mode train_and_eval \
      --max_train_steps 200 --steps_between_evals 50
  python scripts/local_cluster.py --strategy multi_worker_mirrored \
      --num_workers 1 -- --data_dir demo_data --model_dir /tmp/sync_run ...
  python -m alexnet_estimator.local_cluster ...       (the same)

--strategy parameter_server (the default) starts --num_ps parameter servers;
--strategy multi_worker_mirrored starts none and gives every task
`--distribution_strategy multi_worker_mirrored` (synchronous training).
Everything after `--` goes to `python -m alexnet_estimator.train` unchanged;
each task gets `--worker_hosts/--ps_hosts/--task_type/--task_index` on top
(the chief is worker 0), and an evaluator task runs with --mode
train_and_eval. The tasks run in the launcher's folder, so relative paths
mean the same to them as to it. Each task logs to
LOG_DIR/<task>-<index>.log. The launcher waits for every task to end by
itself and exits 0 if all of them succeeded; if one fails, or --timeout_secs
passes, it kills the rest and exits 1. Ctrl-C kills them all.

On real machines, run the same train command on each host with its own
--task_type/--task_index (or a TF_CONFIG), and a --model_dir all of them see
(a shared file system, GCS or HDFS).
"""
import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

# The folder holding this package: the tasks import it from there, installed
# or not.
PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PARAMETER_SERVER = 'parameter_server'
MULTI_WORKER = 'multi_worker_mirrored'  # distribution.MULTI_WORKER
STRATEGIES = (PARAMETER_SERVER, MULTI_WORKER)


def free_ports(count):
  """`count` TCP ports free on 127.0.0.1 right now."""
  sockets = []
  try:
    for _ in range(count):
      s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
      s.bind(('127.0.0.1', 0))
      sockets.append(s)
    return [s.getsockname()[1] for s in sockets]
  finally:
    for s in sockets:
      s.close()


def cluster_hosts(num_workers, num_ps):
  """(worker_hosts, ps_hosts) on loopback; worker_hosts[0] is the chief."""
  ports = free_ports(1 + num_workers + num_ps)
  hosts = ['127.0.0.1:%d' % p for p in ports]
  return hosts[:1 + num_workers], hosts[1 + num_workers:]


def tasks(num_workers, num_ps, evaluator=True):
  """The (task_type, task_index) pairs of the cluster, ps first."""
  names = [('ps', i) for i in range(num_ps)]
  names += [('worker', i) for i in range(1 + num_workers)]
  if evaluator:
    names.append(('evaluator', 0))
  return names


def task_command(train_args, worker_hosts, ps_hosts, task_type, task_index,
                 strategy=PARAMETER_SERVER):
  """The command line of one task; `strategy` is one of STRATEGIES."""
  command = [sys.executable, '-m', 'alexnet_estimator.train'] + list(
      train_args)
  command += ['--worker_hosts', ','.join(worker_hosts),
              '--task_type', task_type, '--task_index', str(task_index)]
  if ps_hosts:
    command += ['--ps_hosts', ','.join(ps_hosts)]
  if strategy == MULTI_WORKER:
    command += ['--distribution_strategy', MULTI_WORKER]
  if task_type == 'evaluator':
    command += ['--mode', 'train_and_eval']
  return command


def log_name(task_type, task_index):
  name = 'chief' if (task_type, task_index) == ('worker', 0) else task_type
  index = task_index - 1 if task_type == 'worker' and task_index else (
      task_index)
  return '%s-%d.log' % (name, index)


def start_task(command, log_path):
  """Starts one task in its own process group, logging to `log_path`."""
  env = dict(os.environ)
  env['PYTHONPATH'] = os.pathsep.join(
      [PACKAGE_PARENT] + [p for p in [env.get('PYTHONPATH')] if p])
  env.pop('TF_CONFIG', None)  # the flags write it
  with open(log_path, 'ab') as log:
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                            env=env, start_new_session=True)


def kill(procs):
  for proc in procs:
    if proc.poll() is None:
      try:
        os.killpg(proc.pid, signal.SIGKILL)
      except OSError:
        pass
  for proc in procs:
    proc.wait()


def wait(procs, timeout_secs=None, poll_secs=0.5):
  """Waits for all `procs` ({name: Popen}); returns {name: exit code}.

  A failed task or the timeout kills the others (their code is then -9).
  """
  deadline = None if timeout_secs is None else time.time() + timeout_secs
  while True:
    codes = {name: proc.poll() for name, proc in procs.items()}
    if all(code is not None for code in codes.values()):
      return codes
    failed = [name for name, code in codes.items() if code]
    if failed or (deadline is not None and time.time() > deadline):
      print('local_cluster: %s; stopping the cluster' % (
          '%s failed' % ', '.join(sorted(failed)) if failed else
          'timed out after %ds' % timeout_secs), file=sys.stderr)
      kill(list(procs.values()))
      return {name: proc.returncode for name, proc in procs.items()}
    time.sleep(poll_secs)


def main(argv=None):
  argv = list(sys.argv[1:] if argv is None else argv)
  train_args = []
  if '--' in argv:
    split = argv.index('--')
    argv, train_args = argv[:split], argv[split + 1:]
  parser = argparse.ArgumentParser(
      description=__doc__.split('\n\n')[0].strip(),
      usage='%(prog)s [options] -- TRAIN_FLAGS...')
  parser.add_argument('--strategy', choices=STRATEGIES,
                      default=PARAMETER_SERVER,
                      help='parameter_server: asynchronous training on '
                      'parameter servers (default); multi_worker_mirrored: '
                      'synchronous, no parameter server')
  parser.add_argument('--num_workers', type=int, default=1,
                      help='training workers besides the chief (default 1)')
  parser.add_argument('--num_ps', type=int, default=None,
                      help='parameter servers (default 1; none with '
                      '--strategy multi_worker_mirrored)')
  parser.add_argument('--no_evaluator', action='store_true',
                      help='start no evaluator task')
  parser.add_argument('--log_dir', default=None,
                      help='folder for the task logs (default: a new '
                      'temporary folder)')
  parser.add_argument('--timeout_secs', type=float, default=None,
                      help='kill the cluster after this long and exit 1')
  args = parser.parse_args(argv)
  if args.strategy == MULTI_WORKER:
    if args.num_ps:
      parser.error('--strategy multi_worker_mirrored trains without '
                   'parameter servers: leave out --num_ps')
    if any(a.startswith('--distribution_strategy') for a in train_args):
      parser.error('--strategy multi_worker_mirrored sets '
                   '--distribution_strategy itself')
    args.num_ps = 0
  elif args.num_ps is None:
    args.num_ps = 1
  if args.num_workers < 0 or (args.strategy == PARAMETER_SERVER and
                              args.num_ps < 1):
    parser.error('--num_workers must be >= 0 and --num_ps >= 1')
  if not any(a.startswith('--model_dir') for a in train_args):
    parser.error('give the training flags after --, with --model_dir')
  log_dir = args.log_dir or tempfile.mkdtemp(prefix='local_cluster_')
  if not os.path.isdir(log_dir):
    os.makedirs(log_dir)
  worker_hosts, ps_hosts = cluster_hosts(args.num_workers, args.num_ps)
  procs = {}
  try:
    for task_type, index in tasks(args.num_workers, args.num_ps,
                                  not args.no_evaluator):
      name = log_name(task_type, index)
      procs[name] = start_task(
          task_command(train_args, worker_hosts, ps_hosts, task_type, index,
                       args.strategy),
          os.path.join(log_dir, name))
      print('local_cluster: started %s (pid %d), log %s' % (
          name[:-4], procs[name].pid, os.path.join(log_dir, name)))
    codes = wait(procs, args.timeout_secs)
  except KeyboardInterrupt:
    kill(list(procs.values()))
    print('local_cluster: interrupted; all tasks killed', file=sys.stderr)
    return 1
  for name, code in sorted(codes.items()):
    print('local_cluster: %s exited with %s' % (name[:-4], code))
  return 0 if all(code == 0 for code in codes.values()) else 1


if __name__ == '__main__':
  sys.exit(main())
