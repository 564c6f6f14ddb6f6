"""fengqiao: township dispute-resolution ledgers."""
