"""What the benchmark scripts share: step timers and photo-like test images.

scripts/benchmark.py (training, Estimator against tf.Session) and
scripts/benchmark_input.py (the input pipeline) time training steps the same
way: `StepTimes` records when each step ends and `images_per_sec` turns the
steps after a warm-up into a rate. benchmark_input.py and
benchmark_predict.py feed `photo_like_jpeg` images, which cost about what
ImageNet's photos cost to decode.
"""
import io
import os
import time

import numpy as np
from PIL import Image
import tensorflow as tf


def sync_disk():
  """Writes out the disk's dirty pages (os.sync: Unix only).

  A checkpoint is written back by Linux some 30 s after it is saved; syncing
  before a timed window keeps that out of it.
  """
  if hasattr(os, 'sync'):
    os.sync()


def images_per_sec(times, warmup_steps, batch_size):
  """Images/sec of the steps after the first `warmup_steps`.

  Args:
    times: wall times at which each step ended, in order.
    warmup_steps: untimed steps at the start, at least 1 (the window opens
      when the last of them ends).
    batch_size: images per step.

  Returns:
    float, images per second over the timed steps.
  """
  steps = len(times) - warmup_steps
  return steps * batch_size / (times[-1] - times[warmup_steps - 1])


class StepTimes(tf.estimator.SessionRunHook):
  """Records the wall time at the end of every step; fetches nothing.

  As a hook it times Estimator training; a plain session loop calls
  `step_done` after each step instead. With `sync_after`, the disk is synced
  at the end of that step, just before its time is taken, so the timed
  window after it starts with nothing left to write.
  """

  def __init__(self, sync_after=None):
    self.times = []
    self._sync_after = sync_after

  def after_run(self, run_context, run_values):
    del run_context, run_values  # unused
    self.step_done()

  def step_done(self):
    if len(self.times) + 1 == self._sync_after:
      sync_disk()
    self.times.append(time.time())


def photo_like_jpeg(rng, width=500, height=375, grid=(12, 16), quality=90):
  """A smooth random RGB JPEG: low-frequency colour plus mild texture.

  A `grid` (rows, columns) of random colours, resized bicubically to
  height x width, plus uniform noise in [-12, 12]. At the default size and
  quality it weighs about what an ImageNet photo does.

  Args:
    rng: numpy RandomState; the same state gives the same bytes.
    width, height: the image's size.
    grid: (rows, columns) of the random colours.
    quality: JPEG quality.

  Returns:
    The JPEG's bytes.
  """
  small = rng.randint(0, 256, size=tuple(grid) + (3,)).astype(np.uint8)
  image = np.asarray(Image.fromarray(small).resize((width, height),
                                                   Image.BICUBIC), np.int16)
  image = image + rng.randint(-12, 13, size=image.shape)
  buffer = io.BytesIO()
  Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(
      buffer, 'JPEG', quality=quality)
  return buffer.getvalue()
