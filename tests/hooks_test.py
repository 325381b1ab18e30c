"""Tests for the progress hook's log lines."""
import re

import tensorflow as tf

from alexnet_estimator import hooks


class ProgressHookTest(tf.test.TestCase):

  def test_logs_step_loss_rate_and_steps_left(self):
    with tf.Graph().as_default():
      step = tf.train.create_global_step()
      tf.identity(tf.constant(0.25), name='cross_entropy')
      train_op = tf.assign_add(step, 1)
      hook = hooks.ProgressHook(batch_size=8, last_step=6, every_n_steps=2)
      with self.assertLogs('absl', level='INFO') as logs:
        with tf.train.MonitoredSession(hooks=[hook]) as sess:
          for _ in range(6):
            sess.run(train_op)
    lines = [r.getMessage() for r in logs.records]
    self.assertEqual(len(lines), 3, lines)  # every 2nd of 6 steps
    for line in lines:
      match = re.match(r'step (\d+)/6  loss 0\.2500  ([0-9.]+) images/sec  '
                       r'(\d+) steps left  ETA \S+', line)
      self.assertIsNotNone(match, line)
      self.assertEqual(int(match.group(3)), 6 - int(match.group(1)))
      self.assertGreater(float(match.group(2)), 0)

  def test_duration_format(self):
    self.assertEqual(hooks.format_duration(5), '5s')
    self.assertEqual(hooks.format_duration(125), '2m05s')
    self.assertEqual(hooks.format_duration(3 * 3600 + 120), '3h02m')


if __name__ == '__main__':
  tf.test.main()
