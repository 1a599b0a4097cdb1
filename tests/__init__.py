import pytest

# The shared helpers assert too: pytest explains their failures as it does the tests' own.
pytest.register_assert_rewrite("tests.helpers")
