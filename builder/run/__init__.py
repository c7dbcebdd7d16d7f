"""Running the per-recording unit: the worker function, local and Ray executors, and the process
settings they need (thread caps, the fork policy, dying with the parent)."""
