"""Well-kept public datasets of the market (genai-prices, LiteLLM's price map, models.dev,
OpenRouter's models API), read offline or fetched, to cross-check the curated catalog and to
propose what it lacks. They never override it: see :mod:`llmatlas.market.check` and
:mod:`llmatlas.market.sync`.
"""
