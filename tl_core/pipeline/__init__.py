"""The transfer-learning pipeline, one module per step: data -> preprocess (with images,
for drawings and photos) -> augment -> model -> features -> train -> evaluate -> predict,
with runs (saved runs) and the digit sets beside MNIST: people (real people's digits),
drawn (the drawn-digit set) and handwriting (the class's saved drawings)."""
