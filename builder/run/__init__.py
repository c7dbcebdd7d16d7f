"""Running the per-recording unit: the worker function (worker), local and Ray executors, the
process settings they need behind one get/set API (process: fork policy, thread caps, allocator),
dying with the parent (lifeline) and the progress bar (progress)."""
