"""Front-end files under content-hashed names: `asset_url("pico.css")` -> `/static/a/pico.3f2c1a9b.css`.

The files come from `node_modules` (pinned in package.json, installed by `make setup`) and from
branding/static. They are read once at start-up and served from memory with a year of immutable
caching: a changed file gets a new name, so a browser never keeps a stale copy.
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from litestar import Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromQuery

from lms.config import PROJECT_ROOT
from lms.identity.guards import allows_anonymous
from lms.lib.params import AppRequest

ASSET_PREFIX = "/static/a"
IMMUTABLE = "public, max-age=31536000, immutable"


def logical_sources(branding_dir: Path) -> dict[str, Path]:
    """Logical name -> file. The logical names are what templates ask for."""
    modules = PROJECT_ROOT / "node_modules"
    return {
        "pico.css": modules / "@picocss/pico/css/pico.min.css",
        "htmx.js": modules / "htmx.org/dist/htmx.min.js",
        "theme.css": branding_dir / "static/theme.css",
        "app.js": branding_dir / "static/app.js",
        "studio.css": branding_dir / "static/studio.css",
        "studio.js": branding_dir / "static/studio.js",
        "upload.js": branding_dir / "static/upload.js",
        "logo.svg": branding_dir / "static/logo.svg",
    }


@dataclass(frozen=True)
class Asset:
    url: str
    body: bytes
    media_type: str


class AssetManifest:
    """Logical names to hashed URLs, and the bytes behind each hashed name."""

    def __init__(self, sources: dict[str, Path]) -> None:
        self._by_name: dict[str, Asset] = {}
        self._by_file: dict[str, Asset] = {}
        for name, path in sources.items():
            body = path.read_bytes()
            digest = hashlib.sha256(body).hexdigest()[:12]
            stem, _, suffix = name.rpartition(".")
            file_name = f"{stem}.{digest}.{suffix}"
            media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
            asset = Asset(f"{ASSET_PREFIX}/{file_name}", body, media_type)
            self._by_name[name] = asset
            self._by_file[file_name] = asset

    def url(self, name: str) -> str:
        """The hashed URL of a logical asset; an unknown name is a programming error."""
        return self._by_name[name].url

    def file(self, file_name: str) -> Asset | None:
        return self._by_file.get(file_name)


@get(
    f"{ASSET_PREFIX}/{{file_name:str}}",
    include_in_schema=False,
    guards=[allows_anonymous("the design system's stylesheets and scripts are public files")],
)
async def serve_asset(request: AppRequest, file_name: FromQuery[str]) -> Response[bytes]:
    asset = request.app.state.assets.file(file_name)
    if asset is None:
        raise NotFoundException("no such asset")
    return Response(asset.body, media_type=asset.media_type, headers={"Cache-Control": IMMUTABLE})
