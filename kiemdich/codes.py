"""Short public identifiers: random Crockford base32, unambiguous to read aloud or type."""
import base64
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # no I, L, O, U
# base32 turns each 5 random bits into one of 32 letters: the same uniform choice as secrets.choice,
# one system call for many codes instead of one per character.
_FROM_BASE32 = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", ALPHABET.encode())


def new_code(length: int = 8) -> str:
    return new_codes(1, length)[0]


def new_codes(count: int, length: int = 8) -> list[str]:
    """`count` random codes (an import writes thousands at a time)."""
    if length % 8:
        return ["".join(secrets.choice(ALPHABET) for _ in range(length)) for _ in range(count)]
    text = base64.b32encode(secrets.token_bytes(count * length * 5 // 8)).translate(_FROM_BASE32).decode()
    return [text[n:n + length] for n in range(0, count * length, length)]


def clean_code(raw: str) -> str:
    """What a person typed, read the way Crockford intends (O->0, I/L->1, no dashes)."""
    text = (raw or "").upper().replace("-", "").replace(" ", "")
    return text.translate(str.maketrans({"O": "0", "I": "1", "L": "1"}))
