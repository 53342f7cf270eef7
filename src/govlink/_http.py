"""The one place govlink imports httpx and Authlib's httpx integration.

govlink pins httpx 0.28. Authlib's httpx integration announces on import that it prefers the
``httpx2`` fork; that single, known notice is filtered here (and only here) so that users running
with warnings as errors are not broken by it. Every other module imports HTTP pieces from here.
"""

from __future__ import annotations

import warnings

import httpx

# Importing authlib.deprecate installs an "always" filter for its warning class; import it first
# so that the narrower "ignore" below is installed after it and takes precedence in the block.
from authlib.deprecate import AuthlibDeprecationWarning

with warnings.catch_warnings():
    warnings.filterwarnings(
        "ignore", message=r"The httpx module is deprecated", category=AuthlibDeprecationWarning
    )
    from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuth2Client

__all__ = ["AsyncOAuth2Client", "OAuth2Client", "httpx"]
