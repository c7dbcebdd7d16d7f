"""builder.card: the dataset card, Croissant, attribution, the preview grid."""
