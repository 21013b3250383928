"""The console's icon: linked from every page, served as an SVG from the app's own origin
(the Content-Security-Policy's img-src 'self'), and /favicon.ico, which browsers ask for on
their own, leads to it instead of a 404."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree

from console_client import sign_in

ICON = "/static/favicon.svg"


def test_every_console_page_links_the_icon(app, users):  # noqa: F811
    client = app.test_client()
    assert f'<link rel="icon" href="{ICON}" type="image/svg+xml">' in client.get("/console/login").get_data(as_text=True)
    sign_in(client, "ana")
    assert f'<link rel="icon" href="{ICON}"' in client.get("/console/").get_data(as_text=True)


def test_the_icon_is_an_svg_from_our_origin(client):
    reply = client.get(ICON)
    assert reply.status_code == 200 and reply.mimetype == "image/svg+xml"
    assert ElementTree.fromstring(reply.data).tag == "{http://www.w3.org/2000/svg}svg"
    assert b"<script" not in reply.data and b"href" not in reply.data  # nothing to run, nothing fetched elsewhere
    assert "img-src 'self'" in reply.headers["Content-Security-Policy"]


def test_favicon_ico_leads_to_the_icon(client):
    reply = client.get("/favicon.ico")
    assert reply.status_code == 301 and reply.location.endswith(ICON)
    assert client.get("/favicon.ico", follow_redirects=True).mimetype == "image/svg+xml"
