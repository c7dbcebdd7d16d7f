"""builder.layouts: imagefolder, parquet, the workers' units, folder limits."""
