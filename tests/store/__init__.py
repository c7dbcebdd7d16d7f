"""builder.store: ledger, paths, stamps, state."""
