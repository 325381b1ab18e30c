"""Querying an exported model: TF Serving REST bodies, and a local stand-in.

TF Serving's REST API takes `{"instances": [{"b64": "<base64>"}, ...]}` for a
signature with one string input whose name ends in `_bytes`, as ours
(`image_bytes`) does. `rest_body` writes such a body; `SavedModelPredictor`
loads the SavedModel once with TensorFlow's standard loader and answers the
same body the way the server does, so the export can be tried without a server.
"""
import base64
import json

import tensorflow as tf

from alexnet_estimator import export as export_lib


def rest_body(image_bytes_list):
  """Returns the TF Serving REST request body (str) for encoded images."""
  return json.dumps({'instances': [
      {'b64': base64.b64encode(b).decode('ascii')} for b in image_bytes_list]})


def decode_rest_instances(body):
  """The encoded images of a REST body, decoded as TF Serving does.

  Accepts both `[{"b64": ...}]` and the named form
  `[{"image_bytes": {"b64": ...}}]`.

  Raises:
    ValueError: the body is not of either form.
  """
  instances = json.loads(body).get('instances')
  if not isinstance(instances, list):
    raise ValueError('REST body has no "instances" list')
  images = []
  for instance in instances:
    if isinstance(instance, dict) and export_lib.INPUT_NAME in instance:
      instance = instance[export_lib.INPUT_NAME]
    if not (isinstance(instance, dict) and set(instance) == {'b64'}):
      raise ValueError('each instance must be {"b64": ...}, got %r'
                       % (instance,))
    images.append(base64.b64decode(instance['b64']))
  return images


class SavedModelPredictor(object):
  """Loads an exported SavedModel once and runs its serving signature."""

  def __init__(self, export_dir):
    self._graph = tf.Graph()
    self._session = tf.Session(graph=self._graph)
    with self._graph.as_default():
      meta = tf.saved_model.loader.load(
          self._session, [tf.saved_model.tag_constants.SERVING], export_dir)
    signature = meta.signature_def['serving_default']
    self._input = signature.inputs[export_lib.INPUT_NAME].name
    self._outputs = {k: v.name for k, v in signature.outputs.items()}

  def predict(self, image_bytes_list):
    """Returns {'classes', 'class_names', 'probabilities'} numpy arrays."""
    return self._session.run(self._outputs,
                             {self._input: list(image_bytes_list)})

  def predict_rest(self, body):
    """Answers a REST body as TF Serving would: {"predictions": [...]}."""
    out = self.predict(decode_rest_instances(body))
    predictions = []
    for i in range(len(out['classes'])):
      predictions.append({
          'classes': int(out['classes'][i]),
          'class_names': tf.compat.as_str(out['class_names'][i]),
          'probabilities': [float(p) for p in out['probabilities'][i]]})
    return {'predictions': predictions}

  def close(self):
    self._session.close()
