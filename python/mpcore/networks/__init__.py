"""Networks on the core: MLPs and their accumulation policies, cost and energy models,
static plans, and importers (PyTorch, ONNX, scikit-learn, state dicts)."""
