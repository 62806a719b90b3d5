"""Running and standing by: which instance is active (leadership), what one taking over
finds and merges, the calls that ended while nobody listened, the log, the firewall, and the
local Asterisk sandbox (`hotline up`, the tests, the measurements)."""
