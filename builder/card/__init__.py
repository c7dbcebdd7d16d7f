"""The dataset documents: the card (README.md) and its YAML header, Croissant, provenance and
attribution, the datasheet sections and the preview grid."""
