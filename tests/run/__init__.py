"""builder.run: the worker, executors, thread caps."""
