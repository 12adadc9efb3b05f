"""Renderers: documents (``views``) as text -- tables, JSON, markdown, CSV,
HTML, ladders -- never touching the engine."""
