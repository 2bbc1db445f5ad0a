"""Exceptions with messages meant for the person who wrote the config."""


class ConfigError(ValueError):
    """A config value is invalid; the message names the key and the value."""
