"""pytest set-up shared by all tests."""


def pytest_collection_modifyitems(session, config, items):
  """Drops tf.test.TestCase.test_session, which pytest mistakes for a test.

  pytest would report it as skipped ("Not a test") in every test class.
  """
  del session, config  # unused
  items[:] = [item for item in items if item.name != 'test_session']
