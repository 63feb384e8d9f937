"""Plain-Python reference of the compiled core: readable, slow, and the tests' oracle."""
