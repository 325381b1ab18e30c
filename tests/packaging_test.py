"""Packaging checks: Dockerfile.gpu lints and copies what exists; entry points."""
import os
import re
import shutil
import subprocess
import sys
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _read(name):
  with open(os.path.join(ROOT, name)) as f:
    return f.read()


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
    sources = []
    for line in _read('Dockerfile.gpu').splitlines():
      if line.startswith('COPY '):
        sources.extend(line.split()[1:-1])
    self.assertIn('alexnet_estimator', sources)
    for source in sources:
      self.assertTrue(os.path.exists(os.path.join(ROOT, source)), source)

  def test_default_base_is_nvidia_tf1_and_stock_is_an_argument(self):
    text = _read('Dockerfile.gpu')
    self.assertRegex(text, r'ARG BASE_IMAGE=nvcr\.io/nvidia/tensorflow:'
                           r'[0-9.]+-tf1-py3\n')
    self.assertIn('FROM ${BASE_IMAGE}', text)
    self.assertIn('tensorflow/tensorflow:1.15.5-gpu-py3', text)
    self.assertIn('ENTRYPOINT ["alexnet-estimator"]', text)


class SetupTest(unittest.TestCase):

  def test_console_script_points_at_a_real_function(self):
    match = re.search(r"'alexnet-estimator=([\w.]+):(\w+)'", _read('setup.py'))
    self.assertIsNotNone(match)
    module = __import__(match.group(1), fromlist=[match.group(2)])
    self.assertTrue(callable(getattr(module, match.group(2))))

  def test_requirements_pin_gpu_build_and_cpu_variants(self):
    self.assertIn('tensorflow-gpu==1.15.5', _read('requirements.txt'))
    self.assertIn('intel-tensorflow==1.15.2', _read('requirements-cpu.txt'))
    self.assertIn('tensorflow==1.15.5', _read('requirements-stock.txt'))
    self.assertIn('-r requirements-stock.txt', _read('requirements-dev.txt'))

  def test_extras_match_the_requirements_files(self):
    setup = _read('setup.py')
    for extra, requirements in (('cpu', 'requirements-cpu.txt'),
                                ('cpu-stock', 'requirements-stock.txt'),
                                ('gpu', 'requirements.txt')):
      pin = [line for line in _read(requirements).splitlines()
             if 'tensorflow' in line and not line.startswith('#')]
      self.assertEqual(len(pin), 1, pin)
      self.assertIn("'%s': ['%s']" % (extra, pin[0]), setup)

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


if __name__ == '__main__':
  unittest.main()
