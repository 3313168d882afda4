"""A minimal OpenID Connect provider for tests, served over real HTTP on 127.0.0.1.

Authorization code flow only: ``/authorize`` signs in :attr:`MiniIdP.user` at once (no consent
page) and redirects back with a code; ``/token`` checks the client's secret and the code and
answers an RS256 ID token (issuer, audience, expiry, nonce); ``/jwks`` publishes the public key.
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
from typing import Any
from urllib.parse import urlencode

import flask
from joserfc import jwk, jwt
from werkzeug.serving import make_server

CLIENT_ID, CLIENT_SECRET = "watchfloor-test", "test-client-secret"


class MiniIdP:
    """The provider: start it, point ``WATCHFLOOR_OIDC_ISSUER`` at :attr:`issuer`, stop it."""

    def __init__(self) -> None:
        self.key = jwk.RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig"})
        self.user = "officer"  # whom /authorize signs in
        self.codes: dict[str, dict[str, Any]] = {}
        self.app = flask.Flask("mini-idp")
        self._routes()
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.issuer = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> MiniIdP:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)

    def _routes(self) -> None:
        app = self.app

        @app.get("/.well-known/openid-configuration")
        def metadata() -> Any:
            return {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            }

        @app.get("/jwks")
        def jwks() -> Any:
            return {"keys": [self.key.as_dict(private=False)]}

        @app.get("/authorize")
        def authorize() -> Any:
            args = flask.request.args
            if args.get("client_id") != CLIENT_ID or args.get("response_type") != "code":
                return {"error": "invalid_request"}, 400
            code = secrets.token_urlsafe(16)
            self.codes[code] = {"nonce": args.get("nonce"), "user": self.user}
            query = urlencode({"code": code, "state": args.get("state", "")})
            return flask.redirect(f"{args['redirect_uri']}?{query}")

        @app.post("/token")
        def token() -> Any:
            auth = flask.request.headers.get("Authorization", "")
            expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
            if auth != f"Basic {expected}":
                return {"error": "invalid_client"}, 401
            grant = self.codes.pop(flask.request.form.get("code", ""), None)
            if grant is None:
                return {"error": "invalid_grant"}, 400
            now = int(time.time())
            claims = {
                "iss": self.issuer,
                "sub": f"sub-{grant['user']}",
                "aud": CLIENT_ID,
                "iat": now,
                "exp": now + 300,
                "nonce": grant["nonce"],
                "preferred_username": grant["user"],
            }
            id_token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, self.key)
            return {
                "access_token": secrets.token_urlsafe(16),
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": id_token,
            }
