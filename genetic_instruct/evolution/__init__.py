"""The Genetic-Instruct loop: offspring planned by the operators, asked of the roles, read,
filtered, executed and judged, each moving on as soon as its answer arrives (flow.py).

roles/ holds one object per LLM role, filters/ the steps that drop an offspring with a
counted reason.
"""
