"""Evaluation and the results it makes: ``evaluate`` (accuracy with a 95 % interval over fixed test episodes,
a checkpoint on a protocol), ``references`` (the papers' published numbers, as data), ``report`` (the
README's results block, from the metrics files) and ``showdown`` (every method on the same episodes, one
table)."""
