"""What an announcement may carry to a public site: HTML cleaned of scripts and styles
(a CRM's visual editor pastes whatever it was given), and a picture that really is one."""

from __future__ import annotations

import io
import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import nh3
import requests
from django.conf import settings
from PIL import Image, UnidentifiedImageError

ALLOWED_TAGS = {"p", "br", "b", "strong", "i", "em", "u", "s", "ul", "ol", "li", "h2", "h3", "h4", "blockquote",
                "a", "span", "div", "hr", "table", "thead", "tbody", "tr", "th", "td"}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "td": {"colspan", "rowspan"}, "th": {"colspan", "rowspan"}}
IMAGE_TYPES = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"), "WEBP": ("image/webp", "webp"),
               "GIF": ("image/gif", "gif")}
MAX_PIXELS = 40_000_000  # a 6000×6000 photo is fine; a decompression bomb is not
FETCH_TIMEOUT = 15  # per connect / read
FETCH_DEADLINE = 60  # the whole download
MAX_REDIRECTS = 3


def html_sanitise(html: str) -> str:
    """Announcement HTML as the site may show it: formatting and links only; scripts, event
    handlers, styles, iframes and ``javascript:`` links are removed, links open safely."""
    return nh3.clean(html or "", tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES,
                     url_schemes={"http", "https", "mailto", "tel"}, link_rel="noopener noreferrer").strip()


class ImageRejected(ValueError):
    """The picture cannot go to the site; the message says why, for the manager."""


class ImageUnavailable(ImageRejected):
    """The picture's host did not answer properly: worth trying again later."""


@dataclass(frozen=True)
class Picture:
    name: str
    content_type: str
    data: bytes


def image_check(data: bytes, max_bytes: int, name: str = "image") -> Picture:
    """Type by content, not by name or header; size in bytes and in pixels."""
    if len(data) > max_bytes:
        raise ImageRejected(f"картинка больше {max_bytes // 1024} КБ ({len(data) // 1024} КБ)")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            kind, (width, height) = probe.format, probe.size
            if width * height > MAX_PIXELS:
                raise ImageRejected(f"картинка слишком большая: {width}×{height} точек")
            probe.verify()
    except ImageRejected:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageRejected("файл по ссылке не является картинкой JPEG, PNG, WebP или GIF") from exc
    if kind not in IMAGE_TYPES:
        raise ImageRejected(f"формат {kind} не принимается (нужен JPEG, PNG, WebP или GIF)")
    content_type, extension = IMAGE_TYPES[kind]
    stem = name.rsplit("/", 1)[-1].rsplit(".", 1)[0][:80] or "image"
    return Picture(name=f"{stem}.{extension}", content_type=content_type, data=data)


def _public_host(host: str) -> None:
    """A deal's link may point anywhere: never at the hub's own network (an internal service,
    the cloud's metadata address), unless the operator allows it (a sandbox, tests)."""
    if settings.HUB_IMAGE_FETCH_PRIVATE:
        return
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except (socket.gaierror, UnicodeError) as exc:
        raise ImageUnavailable(f"адрес картинки не найден: {host}") from exc
    if not addresses or not all(ipaddress.ip_address(a.split("%")[0]).is_global for a in addresses):
        raise ImageRejected("ссылка на картинку ведёт во внутреннюю сеть")


def image_fetch(url: str, max_bytes: int) -> Picture:
    """Download the deal's picture: public hosts only (each redirect checked again), no more
    than ``max_bytes`` + 1 read (a link to a film must not fill the memory), within
    ``FETCH_DEADLINE`` seconds in all (a host trickling bytes must not hold a worker)."""
    deadline = time.monotonic() + FETCH_DEADLINE
    for _hop in range(MAX_REDIRECTS + 1):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ImageRejected("в поле картинки не ссылка http(s)")
        if "@" in parts.netloc or "\\" in url:  # parsers disagree on such hosts: the one checked is not the one asked
            raise ImageRejected("ссылка на картинку с именем пользователя или обратной косой чертой")
        _public_host(parts.hostname)
        try:
            with requests.get(url, stream=True, timeout=FETCH_TIMEOUT, allow_redirects=False) as response:
                if response.is_redirect and response.headers.get("Location"):
                    url = urljoin(url, response.headers["Location"])
                    continue
                if response.status_code >= 500 or response.status_code == 429:
                    raise ImageUnavailable(f"картинка не скачалась: ответ {response.status_code}")
                if response.status_code != 200:
                    raise ImageRejected(f"картинка не скачалась: ответ {response.status_code}")
                data = bytearray()
                for chunk in response.iter_content(64 * 1024):
                    data += chunk
                    if len(data) > max_bytes:
                        raise ImageRejected(f"картинка больше {max_bytes // 1024} КБ")
                    if time.monotonic() > deadline:
                        raise ImageUnavailable("картинка качается слишком долго")
        except requests.RequestException as exc:
            raise ImageUnavailable(f"картинка не скачалась: {type(exc).__name__}") from exc
        return image_check(bytes(data), max_bytes, name=parts.path or "image")
    raise ImageRejected("слишком много перенаправлений по ссылке на картинку")
