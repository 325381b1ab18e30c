"""Tests for the plateau schedule and early stopping state in model_dir."""
import os
import tempfile
import unittest

from alexnet_estimator import params as params_lib
from alexnet_estimator import schedule


def _params(**kw):
  return params_lib.make_params(dict(dict(
      lr_schedule='plateau', plateau_patience=2, max_lr_drops=2,
      learning_rate=0.01), **kw))


class PlateauTest(unittest.TestCase):

  def setUp(self):
    self.model_dir = tempfile.mkdtemp()

  def _feed(self, accuracies, params, first_step=10):
    events = []
    for i, accuracy in enumerate(accuracies):
      state = schedule.record_evaluation(self.model_dir, first_step + 10 * i,
                                         accuracy, params)
      events.append(state['history'][-1]['event'])
    return state, events

  def test_drops_after_patience_flat_evaluations_at_most_max_times(self):
    params = _params()
    state, events = self._feed([.1, .2, .2, .15, .3, .3, .3, .3, .3], params)
    self.assertEqual(events, ['improved', 'improved', 'flat', 'drop',
                              'improved', 'flat', 'drop', 'flat', 'flat'])
    self.assertEqual(state['drops'], 2)  # max_lr_drops
    self.assertAlmostEqual(schedule.learning_rate(state, params), 1e-4)
    self.assertEqual((state['best_accuracy'], state['best_step']), (.3, 50))
    # The rate each evaluation was made at.
    rates = [h['learning_rate'] for h in state['history']]
    self.assertEqual([round(r, 6) for r in rates],
                     [.01] * 4 + [.001] * 3 + [.0001] * 2)

  def test_state_survives_a_restart_and_a_repeated_evaluation(self):
    params = _params()
    self._feed([.5, .4], params)  # one flat evaluation so far
    state = schedule.load(self.model_dir)  # a new process reads the file
    self.assertEqual((state['drops'], state['flat_evaluations']), (0, 1))
    # A rerun evaluating the step already counted changes nothing.
    again = schedule.record_evaluation(self.model_dir, 20, .4, params)
    self.assertEqual(len(again['history']), 2)
    state = schedule.record_evaluation(self.model_dir, 30, .45, params)
    self.assertEqual(state['drops'], 1)
    self.assertEqual(schedule.load(self.model_dir)['drops'], 1)
    self.assertEqual(sorted(os.listdir(self.model_dir)),
                     [schedule.STATE_FILE])  # no temporary file left

  def test_early_stopping_waits_for_the_last_drop(self):
    params = _params(max_lr_drops=1, early_stopping_patience=2)
    state, events = self._feed([.5, .5, .5, .5, .5], params)
    self.assertEqual(events, ['improved', 'flat', 'drop', 'flat', 'stop'])
    self.assertEqual(state['stopped_at'], 50)

  def test_early_stopping_with_a_constant_rate(self):
    params = _params(lr_schedule='constant', early_stopping_patience=1)
    state, events = self._feed([.5, .6, .6], params)
    self.assertEqual(events, ['improved', 'improved', 'stop'])
    self.assertEqual(schedule.learning_rate(state, params), 0.01)
    self.assertTrue(schedule.uses_evaluations(params))
    self.assertFalse(schedule.uses_evaluations(params_lib.make_params()))

  def test_fresh_state(self):
    state = schedule.load(self.model_dir)
    self.assertEqual((state['drops'], state['stopped_at'], state['history']),
                     (0, None, []))


if __name__ == '__main__':
  unittest.main()
