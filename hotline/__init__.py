"""The hotline service: wires the pure domain (ivr, routing, agents) to Asterisk, HTTP and disk."""
