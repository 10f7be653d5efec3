"""Authlib's grants and grant extensions, with our storage and stricter policy.

One module per standard: ``authorization_code`` (RFC 6749 §4.1), ``refresh_token``
(RFC 6749 §6), ``pkce`` (RFC 7636, S256 only), ``resource`` (RFC 8707).
"""
