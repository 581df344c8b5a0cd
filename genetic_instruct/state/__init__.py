"""A run's durable state: the SQLite store, the journal of finished requests and verdicts,
and the run's meta, every key typed."""
