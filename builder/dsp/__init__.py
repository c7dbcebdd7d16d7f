"""Pure array math: filterbanks, the spectrogram and its channels (PCEN, deltas), and rendering
values to pixels and PNG bytes. No file system, no processes."""
