"""Local mode: the whole product on one machine, on moto, through the real handlers."""
