"""Where data comes from: live services, a folder of the user's files, or the bundled sample.

All three answer the same questions in the same shapes (see `base`), so nothing downstream
knows which one ran, except for the `source` column it writes.
"""

from warehouse.sources.base import PriceBatch, Source, open_source

__all__ = ["PriceBatch", "Source", "open_source"]
