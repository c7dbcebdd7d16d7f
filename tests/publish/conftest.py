"""Fixtures of the publish tests (a built dataset, fake Hub and Kaggle servers, a clean client
environment): defined with their helpers in tests/helpers/publish.py."""

from tests.helpers.publish import client_env, hub, imagefolder_out, kaggle, parquet_out  # noqa: F401
