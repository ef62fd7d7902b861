"""Evidence bundles for auditors: one zip per (framework, period, filters) that verifies offline.

`create` reads the store (collector.bundle.create); `verify` works on the zip alone and never
imports the store (collector.bundle.verify). The layout is in docs/bundles.md and
collector/bundle/layout.py.
"""
