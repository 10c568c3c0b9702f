"""Sitemap documents for tests."""


def urlset(entries: list[tuple[str, str | None]], news: bool = False) -> bytes:
    rows = []
    for loc, day in entries:
        if news and day:
            rows.append(
                f"<url><loc>{loc}</loc><news:news><news:publication><news:name>T</news:name><news:language>en</news:language>"
                f"</news:publication><news:publication_date>{day}T06:00:00+05:30</news:publication_date></news:news></url>"
            )
        else:
            rows.append(f"<url><loc>{loc}</loc>" + (f"<lastmod>{day}</lastmod>" if day else "") + "</url>")
    return (
        '<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">' + "".join(rows) + "</urlset>"
    ).encode()


def sitemapindex(entries: list[tuple[str, str | None]]) -> bytes:
    rows = "".join(
        f"<sitemap><loc>{loc}</loc>" + (f"<lastmod>{day}</lastmod>" if day else "") + "</sitemap>"
        for loc, day in entries
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        + rows
        + "</sitemapindex>"
    ).encode()
