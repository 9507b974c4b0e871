"""Storage ports (``ports``) with an AWS implementation (``aws``) and an in-memory one
(``memory``). Domain code only ever sees the ports."""
