"""The seed tasks: their files and formats, screening against benchmarks, and the runs of
their reference solutions against their own tests, all before a run starts.

(Named apart from the top-level seeds/ folder, which holds the builtin seed file.)
"""
