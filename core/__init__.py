"""Shared errors and settings: below the CLI, flows, tasks and schemas, importing none of them."""
