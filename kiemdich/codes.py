"""Short public identifiers: random Crockford base32, unambiguous to read aloud or type."""
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # no I, L, O, U


def new_code(length: int = 8) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def clean_code(raw: str) -> str:
    """What a person typed, read the way Crockford intends (O->0, I/L->1, no dashes)."""
    text = (raw or "").upper().replace("-", "").replace(" ", "")
    return text.translate(str.maketrans({"O": "0", "I": "1", "L": "1"}))
