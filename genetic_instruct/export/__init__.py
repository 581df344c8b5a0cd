"""What a run hands to its users: the dataset (JSONL or Parquet), its card, which run it
belongs to, and re-checks of an exported dataset against benchmarks."""
