"""The transfer-learning pipeline, one module per step: data -> preprocess (with images,
for drawings and photos) -> augment -> model -> features -> train -> evaluate (with people,
real people's digits, and drawn, the drawn-digit set)."""
