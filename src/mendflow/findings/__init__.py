"""Findings after a scan: the ledger (`store`), what people see of it (`view`), false-positive labels and risk.

Kept free of imports so workflow code can import one module of it without pulling the others into the sandbox.
"""
