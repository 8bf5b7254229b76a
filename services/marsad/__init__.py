"""marsad (مرصد, "observatory"): Arabic news articles in, enriched deduplicated events out.

The package is split the way the stream is: ``normaliser``, ``extractor`` and
``deduplicator`` each hold a pure NLP core (no Faust or Kafka imports) and one
thin ``agent`` module that wires the core to its topics.  Shared plumbing
(settings, codec, metrics, topics, CLI) lives at the top level.
"""

__version__ = "0.1.0"
