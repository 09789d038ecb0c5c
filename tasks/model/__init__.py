"""The model shipped inside every registered MLflow model: imports nothing of the project."""
