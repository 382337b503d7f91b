"""pytest plugin of kycflow (fixtures for the in-process sandbox)."""
