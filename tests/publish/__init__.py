"""Tests of ``builder.publish`` against local fake Hub and Kaggle servers (see conftest.py)."""
