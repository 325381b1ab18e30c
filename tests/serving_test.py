"""Tests for the REST helpers of serving.py (Predictor: predictor_test.py)."""
import base64
import json
import unittest

from alexnet_estimator import serving


class RestTest(unittest.TestCase):

  def test_body_round_trips_bytes(self):
    images = [b'\xff\xd8\xff\x00abc', b'\x89PNG\r\n\x1a\n\x00\x01']
    body = serving.rest_body(images)
    parsed = json.loads(body)
    self.assertEqual(len(parsed['instances']), 2)
    self.assertEqual(base64.b64decode(parsed['instances'][0]['b64']),
                     images[0])
    self.assertEqual(serving.decode_rest_instances(body), images)

  def test_named_form_is_accepted(self):
    body = json.dumps({'instances': [
        {'image_bytes': {'b64': base64.b64encode(b'xyz').decode('ascii')}}]})
    self.assertEqual(serving.decode_rest_instances(body), [b'xyz'])

  def test_malformed_bodies_are_rejected(self):
    for body in ('{}', '{"instances": "x"}', '{"instances": ["plain"]}',
                 '{"instances": [{"b64": "eHl6", "extra": 1}]}'):
      with self.assertRaises(ValueError, msg=body):
        serving.decode_rest_instances(body)


if __name__ == '__main__':
  unittest.main()
