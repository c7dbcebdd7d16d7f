"""spectroset: audio folders → labelled spectrogram-image datasets for the Hub and Kaggle."""

__version__ = "0.2.0"
