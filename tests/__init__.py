"""Tests; tests/<package>/ mirrors builder/<package>/, shared helpers in tests/helpers/."""
