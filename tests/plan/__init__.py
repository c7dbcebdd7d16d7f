"""builder.plan: windows, splits, names."""
