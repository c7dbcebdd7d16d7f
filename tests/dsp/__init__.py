"""builder.dsp: filterbanks, spectrograms, channels, PNG rendering."""
