"""Inputs: discovering recordings and their labels (folders, a CSV, event tables), audio headers,
decoding and resampling, and sources behind fsspec URLs."""
