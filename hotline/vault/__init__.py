"""Recordings and messages sealed at rest (hotline/vault/vault.py says where, and why)."""

from hotline.vault.cipher import Keys, NotSealed, Tampered, UnknownKey, VaultError, new_key
from hotline.vault.vault import Opened, Rotation, Unavailable, Vault, name_of

__all__ = [
    "Keys",
    "NotSealed",
    "Opened",
    "Rotation",
    "Tampered",
    "Unavailable",
    "UnknownKey",
    "Vault",
    "VaultError",
    "name_of",
    "new_key",
]
