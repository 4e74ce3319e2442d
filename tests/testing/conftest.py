"""pytester runs users' test files in a temporary folder with the plugin loaded."""

pytest_plugins = ["pytester"]
