"""Scale-out: Ray executor, fsspec sources, GPU device."""
