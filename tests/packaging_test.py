"""Packaging checks: Dockerfile.gpu, setup.py's extras against constraints.txt,
the make targets, entry points, and (slow) what a fresh venv gets from pip."""
import json
import os
import runpy
import shutil
import subprocess
import sys
import tempfile
import unittest
from unittest import mock

import pytest
import setuptools
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The extras that install TensorFlow, and the build each pins.
TF_EXTRAS = {'cpu': 'intel-tensorflow==1.15.2',
             'cpu-stock': 'tensorflow==1.15.5',
             'gpu': 'tensorflow-gpu==1.15.5'}
TF_BUILDS = {'tensorflow', 'tensorflow-gpu', 'intel-tensorflow'}
# Installed by the TF extras only: NVIDIA's containers bring their own.
TF_COMPANIONS = {'numpy', 'protobuf', 'h5py'}


def _read(name):
  with open(os.path.join(ROOT, name)) as f:
    return f.read()


def _setup_kwargs():
  """What setup.py hands to setuptools.setup, without building anything."""
  captured = {}
  with mock.patch.object(setuptools, 'setup',
                         lambda **kwargs: captured.update(kwargs)):
    runpy.run_path(os.path.join(ROOT, 'setup.py'), run_name='__main__')
  return captured


def _requirements(lines):
  """Requirement objects of a requirements or constraints file's lines."""
  stripped = (line.split('#')[0].strip() for line in lines)
  return [Requirement(line) for line in stripped
          if line and not line.startswith('-')]


def _constraints():
  """constraints.txt as {canonical name: pinned version}."""
  pins = {}
  for req in _requirements(_read('constraints.txt').splitlines()):
    (spec,) = req.specifier
    assert spec.operator == '==', req
    pins[canonicalize_name(req.name)] = spec.version
  return pins


def _dockerfile_copies():
  sources = []
  for line in _read('Dockerfile.gpu').splitlines():
    if line.startswith('COPY '):
      sources.extend(line.split()[1:-1])
  return sources


def _copy_source(dest):
  """Copies what Dockerfile.gpu copies (all a build needs) into dest/src.

  Building from a copy keeps build/ and the egg-info out of the checkout,
  where the test venvs' editable installs and other runs live.
  """
  src = os.path.join(dest, 'src')
  os.makedirs(src)
  for source in _dockerfile_copies():
    path = os.path.join(ROOT, source)
    if os.path.isdir(path):
      shutil.copytree(path, os.path.join(src, source),
                      ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
    else:
      shutil.copy(path, src)
  return src


def _run(args, **kwargs):
  """Runs args, outside the checkout and without its PYTHONPATH."""
  env = {k: v for k, v in os.environ.items()
         if k not in ('PYTHONPATH', 'PYTHONHOME')}
  proc = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                        universal_newlines=True, env=env, timeout=1200,
                        **kwargs)
  assert proc.returncode == 0, (args, proc.stdout[-3000:], proc.stderr[-3000:])
  return proc


def _base_python():
  """The interpreter this venv was made from: venvs made from it are fresh."""
  path = os.path.join(sys.base_prefix, 'bin',
                      'python%d.%d' % sys.version_info[:2])
  return path if os.path.exists(path) else sys.executable


class DockerfileTest(unittest.TestCase):

  def test_hadolint_finds_no_errors(self):
    hadolint = shutil.which('hadolint') or os.path.join(
        os.path.dirname(sys.executable), 'hadolint')
    proc = subprocess.run(
        [hadolint, '--failure-threshold', 'error', 'Dockerfile.gpu'],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        universal_newlines=True)
    self.assertEqual(proc.returncode, 0, proc.stdout)

  def test_copied_files_exist(self):
    sources = _dockerfile_copies()
    self.assertIn('alexnet_estimator', sources)
    self.assertIn('setup.py', sources)
    for source in sources:
      self.assertTrue(os.path.exists(os.path.join(ROOT, source)), source)

  def test_default_base_is_nvidia_tf1_and_stock_is_an_argument(self):
    text = _read('Dockerfile.gpu')
    self.assertRegex(text, r'ARG BASE_IMAGE=nvcr\.io/nvidia/tensorflow:'
                           r'[0-9.]+-tf1-py3\n')
    self.assertIn('FROM ${BASE_IMAGE}', text)
    self.assertIn('tensorflow/tensorflow:1.15.5-gpu-py3', text)
    self.assertIn('ENTRYPOINT ["alexnet-estimator"]', text)

  def test_installs_without_a_tensorflow_extra(self):
    # Both bases ship TensorFlow: an extra would replace their build.
    self.assertRegex(_read('Dockerfile.gpu'),
                     r'pip install --no-cache-dir \.\s')


class SetupTest(unittest.TestCase):

  def test_console_scripts_point_at_real_functions(self):
    scripts = _setup_kwargs()['entry_points']['console_scripts']
    self.assertEqual(sorted(s.split('=')[0] for s in scripts),
                     ['alexnet-build-tfrecords', 'alexnet-estimator',
                      'alexnet-weights'])
    for script in scripts:
      module, function = script.split('=')[1].split(':')
      module = __import__(module, fromlist=[function])
      self.assertTrue(callable(getattr(module, function)), script)

  def test_plain_install_requires_no_tensorflow_numpy_or_protobuf(self):
    names = {canonicalize_name(Requirement(r).name)
             for r in _setup_kwargs()['install_requires']}
    self.assertFalse(names & (TF_BUILDS | TF_COMPANIONS), names)

  def test_each_tensorflow_extra_pins_its_build_and_bounds_its_companions(self):
    extras = _setup_kwargs()['extras_require']
    for extra, build in TF_EXTRAS.items():
      reqs = {canonicalize_name(r.name): r.specifier
              for r in map(Requirement, extras[extra])}
      self.assertIn(build, extras[extra])
      self.assertEqual(set(reqs) & TF_BUILDS, {Requirement(build).name})
      self.assertEqual(set(reqs) & TF_COMPANIONS, TF_COMPANIONS, extra)
      # What a fresh venv would otherwise get, and TF 1.15 cannot import or
      # run with; what it runs with.
      for name, bad, good in (('protobuf', '3.21.0', '3.20.3'),
                              ('protobuf', '4.24.4', '3.19.6'),
                              ('numpy', '1.19.0', '1.18.5'),
                              ('numpy', '1.21.6', '1.16.0'),
                              ('h5py', '3.8.0', '2.10.0')):
        self.assertNotIn(bad, reqs[name], (extra, name))
        self.assertIn(good, reqs[name], (extra, name))

  def test_constraints_fall_inside_setup_and_pin_nothing_else(self):
    kwargs = _setup_kwargs()
    reqs = [Requirement(r) for r in kwargs['install_requires']]
    for extra in kwargs['extras_require'].values():
      reqs.extend(Requirement(r) for r in extra)
    pins = _constraints()
    for req in reqs:
      name = canonicalize_name(req.name)
      if name in pins:
        self.assertIn(pins[name], req.specifier, req)
    self.assertEqual(set(pins) - {canonicalize_name(r.name) for r in reqs},
                     set())
    for name in TF_COMPANIONS | {'absl-py', 'pillow'}:
      self.assertIn(name, pins)

  def test_one_constraints_file_and_one_requirements_file(self):
    files = sorted(name for name in os.listdir(ROOT)
                   if name.startswith(('requirements', 'constraints')))
    self.assertEqual(files, ['constraints.txt', 'requirements.txt'])

  def test_requirements_pin_the_design_gpu_build_under_the_constraints(self):
    lines = _read('requirements.txt').splitlines()
    self.assertIn('-c constraints.txt', lines)
    self.assertIn('tensorflow-gpu==1.15.5', lines)
    self.assertIn('tensorflow-gpu==1.15.5',
                  _setup_kwargs()['extras_require']['gpu'])
    for req in _requirements(lines):
      if req.specifier:  # a pin here must be setup.py's own
        self.assertIn(str(req), _setup_kwargs()['extras_require']['gpu'])

  def test_make_builds_the_venvs_from_the_extras_and_the_constraints(self):
    make = shutil.which('make')
    if make is None:
      self.skipTest('no make')
    # -n: print the commands, run nothing; -B: as if the venvs were stale.
    proc = subprocess.run([make, '-n', '-B', 'test', 'test-fast'], cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True)
    self.assertEqual(proc.returncode, 0, proc.stdout)
    for line in ('.venv/bin/python -m pip install --quiet -c constraints.txt'
                 ' -e ".[cpu-stock,plots,test]"',
                 '.venv-mkl/bin/python -m pip install --quiet -c '
                 'constraints.txt -e ".[cpu,plots,test]"',
                 '.venv/bin/python -m pytest -q tests',
                 '.venv/bin/python -m pytest -q -m "not slow" tests'):
      self.assertIn(line, proc.stdout.splitlines())

  def test_installed_console_script_runs(self):
    script = os.path.join(os.path.dirname(sys.executable), 'alexnet-estimator')
    proc = subprocess.run([script, '--helpshort'], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True)
    # absl's --help exits 1 by design; what matters is what it shows: under
    # the console script too, the CLI's description and its own flags.
    self.assertIn('Trains, evaluates, predicts with and exports', proc.stdout)
    for flag in ('--data_dir', '--model_dir', '--mode', '--optimizer'):
      self.assertIn(flag, proc.stdout)

  def test_ci_runs_the_readme_test_command(self):
    self.assertIn('make test', _read('.ci/run'))
    self.assertIn('make test', _read('README.md'))


class FreshVenvTest(unittest.TestCase):
  """What pip gives a user: a fresh Python venv, its own pip, no constraints.

  These download TensorFlow (about 110 MB) and its dependencies.
  """

  @pytest.mark.slow
  def test_cpu_stock_extra_gives_a_tensorflow_that_imports(self):
    with tempfile.TemporaryDirectory() as tmp:
      src = _copy_source(tmp)
      venv = os.path.join(tmp, 'venv')
      _run([_base_python(), '-m', 'venv', venv])
      python = os.path.join(venv, 'bin', 'python')
      _run([python, '-m', 'pip', 'install', '--quiet',
            '--disable-pip-version-check', src + '[cpu-stock]'], cwd=tmp)
      # The installed package carries the fused LRN kernel's source, and
      # builds it against the venv's TensorFlow.
      cache = os.path.join(tmp, 'cache')
      with mock.patch.dict(os.environ, ALEXNET_ESTIMATOR_CACHE=cache):
        proc = _run([python, '-c',
                     'import tensorflow as tf, numpy, google.protobuf, h5py\n'
                     'import alexnet_estimator.model_fn as m\n'
                     'from alexnet_estimator import fused_lrn\n'
                     'fused_lrn.load()\n'
                     'print(m.lrn_implementation("tutorial", True, "/cpu:0"))\n'
                     'print(tf.__version__, m.__file__)\n'
                     'print(numpy.__version__, google.protobuf.__version__,'
                     ' h5py.__version__)'], cwd=tmp)
      implementation, versions, companions = (
          proc.stdout.strip().splitlines()[-3:])
      version, module = versions.split()
      self.assertEqual(version, '1.15.5')
      self.assertTrue(module.startswith(venv), module)  # not the checkout's
      self.assertEqual(implementation, 'fused', proc.stderr[-2000:])
      self.assertEqual(len(os.listdir(cache)), 1)
      # The extra's ranges resolve to constraints.txt's pins today.
      pins = _constraints()
      self.assertEqual(companions.split(),
                       [pins['numpy'], pins['protobuf'], pins['h5py']])

  @pytest.mark.slow
  def test_plain_install_brings_no_tensorflow_numpy_or_protobuf(self):
    # A resolution as in a fresh venv (--ignore-installed), by this venv's
    # pip (--dry-run --report need pip 22.2), installing nothing.
    with tempfile.TemporaryDirectory() as tmp:
      src = _copy_source(tmp)
      report = os.path.join(tmp, 'report.json')
      _run([sys.executable, '-m', 'pip', 'install', '--quiet', '--dry-run',
            '--ignore-installed', '--disable-pip-version-check',
            '--report', report, src], cwd=tmp)
      with open(report) as f:
        names = {canonicalize_name(item['metadata']['name'])
                 for item in json.load(f)['install']}
      self.assertIn('alexnet-estimator', names)
      self.assertIn('absl-py', names)
      self.assertFalse(names & (TF_BUILDS | TF_COMPANIONS), names)


if __name__ == '__main__':
  unittest.main()
