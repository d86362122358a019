"""The benchmark: the gateway against a bare pass-through proxy in front of the same upstream."""
