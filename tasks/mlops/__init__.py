"""MLflow: the experiment and its runs, the registry and the champion model."""
