"""builder.config: sections, loading, presets, licences."""
