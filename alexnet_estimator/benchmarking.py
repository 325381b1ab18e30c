"""What the benchmark scripts share: step timers, op traces, test images.

scripts/benchmark.py (training, Estimator against tf.Session) and
scripts/benchmark_input.py (the input pipeline) time training steps the same
way: `StepTimes` records when each step ends and `images_per_sec` turns the
steps after a warm-up into a rate. `OpTimes` sums the op durations of traced
steps by op type and by name scope (scripts/benchmark.py's shares of step
time). benchmark_input.py and benchmark_predict.py feed `photo_like_jpeg`
images, which cost about what ImageNet's photos cost to decode.
"""
import collections
import io
import os
import re
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


# Op-level records of a device in a trace: '/job:.../device:CPU:0'. The
# '/host:CPU' and '.../stream:...' records repeat the same ops at kernel level.
_OP_LEVEL_DEVICE = re.compile(r'/device:[A-Za-z_]+:\d+$')


def op_type(node_stats):
  """The op type of a trace record: its timeline label is 'name = Type(...)'.

  After the MKL build's rewrite it is the kernel that ran (_MklConv2D, not
  Conv2D).
  """
  label = node_stats.timeline_label
  if ' = ' in label:
    return label.split(' = ', 1)[1].split('(', 1)[0]
  return node_stats.node_name.split(':')[-1]


def in_scopes(node_name, scopes):
  """True if a component of the op's name is one of `scopes`.

  'lrn1/Square' and its gradient 'gradients/lrn1/IdentityN_grad/mul' are in
  scope 'lrn1'; 'lrn1_extra/x' and 'conv1/lrn1x' are not.
  """
  return any(part in scopes for part in node_name.split('/')[:-1])


class OpTimes(object):
  """Op durations of traced steps, summed by op type, and within `scopes`.

  Durations are each op's compute time (op_start to op_end) as a
  tf.RunMetadata FULL_TRACE records it, on the op-level records of each
  device. Ops can overlap (inter-op threads), so shares are of the summed op
  time, not of the wall time.
  """

  def __init__(self, scopes):
    self.scopes = tuple(scopes)
    self.by_type = collections.Counter()  # op type -> microseconds
    self.scoped_by_type = collections.Counter()  # the same, within scopes
    self.steps = 0

  def add(self, run_metadata):
    """Adds the op times of one traced step (a tf.RunMetadata)."""
    for device in run_metadata.step_stats.dev_stats:
      if not _OP_LEVEL_DEVICE.search(device.device):
        continue
      for node in device.node_stats:
        micros = node.op_end_rel_micros - node.op_start_rel_micros
        kind = op_type(node)
        self.by_type[kind] += micros
        if in_scopes(node.node_name, self.scopes):
          self.scoped_by_type[kind] += micros
    self.steps += 1

  def update(self, other):
    """Adds another OpTimes' steps (of the same scopes) to these."""
    self.by_type.update(other.by_type)
    self.scoped_by_type.update(other.scoped_by_type)
    self.steps += other.steps

  @property
  def total(self):
    return sum(self.by_type.values())

  def shares(self, counter=None):
    """[(op type, % of the summed op time)], largest first."""
    counter = self.by_type if counter is None else counter
    total = self.total
    return [(kind, 100.0 * micros / total if total else 0.0)
            for kind, micros in sorted(counter.items(),
                                       key=lambda item: (-item[1], item[0]))
            if micros > 0]

  def scoped_share(self):
    """% of the summed op time spent within the scopes."""
    total = self.total
    return 100.0 * sum(self.scoped_by_type.values()) / total if total else 0.0


def trace_steps(session, fetches, steps, scopes):
  """Runs `fetches` `steps` times with a FULL_TRACE; returns their OpTimes."""
  times = OpTimes(scopes)
  options = tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE)
  for _ in range(steps):
    metadata = tf.RunMetadata()
    session.run(fetches, options=options, run_metadata=metadata)
    times.add(metadata)
  return times


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
