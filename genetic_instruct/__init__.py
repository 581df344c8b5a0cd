"""genetic-instruct: grow a coding-instruction dataset with the Genetic-Instruct algorithm."""

__version__ = "0.2.0"
