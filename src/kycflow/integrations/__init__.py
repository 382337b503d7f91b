"""Integrations with other frameworks. Each module imports its framework lazily, so
``import kycflow`` never needs them: install the matching extra (``kycflow[arq]``)."""
