"""What a user writes: the config sections, their geometry checks, presets, and loading (YAML, --set).

Imports only builder.errors, builder.dsp (the mel filterbank, to check a geometry) and third-party
packages: every other layer reads a validated, frozen
:class:`~builder.config.sections.Config`."""
