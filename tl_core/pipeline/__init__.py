"""The transfer-learning pipeline, one module per step: data -> preprocess (with images,
for drawings and photos) -> augment -> model -> features -> train -> evaluate (with drawn,
the drawn-digit set)."""
