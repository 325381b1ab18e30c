"""Runs examples/quickstart.ipynb headless, top to bottom, on a tiny setting.

A cell that raises fails the test; the notebook itself asserts that the
SavedModel and estimator.predict agree.
"""
import os
import shutil
import tempfile
import unittest
from unittest import mock

import nbclient
import nbformat
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOK = os.path.join(ROOT, 'examples', 'quickstart.ipynb')


@pytest.mark.slow
class QuickstartNotebookTest(unittest.TestCase):

  def test_runs_top_to_bottom(self):
    work = tempfile.mkdtemp()
    self.addCleanup(shutil.rmtree, work, True)
    tiny = {'QUICKSTART_REPO': ROOT, 'QUICKSTART_WORK_DIR': work,
            'QUICKSTART_IMAGE_SIZE': '67', 'QUICKSTART_TRAIN_PER_CLASS': '4',
            'QUICKSTART_TRAIN_STEPS': '3'}
    # The kernel inherits this environment; restored whole afterwards.
    environ = mock.patch.dict(os.environ, tiny)
    environ.start()
    self.addCleanup(environ.stop)
    with open(NOTEBOOK) as f:
      notebook = nbformat.read(f, as_version=4)
    for cell in notebook.cells:  # committed without outputs
      if cell.cell_type == 'code':
        self.assertEqual(cell.outputs, [])
        self.assertIsNone(cell.execution_count)
    nbclient.NotebookClient(
        notebook, timeout=600, kernel_name='python3',
        resources={'metadata': {'path': os.path.join(ROOT, 'examples')}}
    ).execute()

    pictures = [cell for cell in notebook.cells if cell.cell_type == 'code'
                and any('image/png' in o.get('data', {})
                        for o in cell.outputs)]
    self.assertEqual(len(pictures), 3)  # preview, curves, gallery
    text = ''.join(o.get('text', '') for cell in notebook.cells
                   if cell.cell_type == 'code' for o in cell.outputs)
    self.assertIn('largest difference from estimator.predict', text)
    self.assertIn('step 3: accuracy', text)
    self.assertTrue(os.path.isdir(os.path.join(work, 'export')))


if __name__ == '__main__':
  unittest.main()
