"""builder.sources: discovery, audio decoding, labels, events, headers."""
