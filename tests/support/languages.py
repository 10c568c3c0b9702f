"""Two new articles for the loopback news site: one in Hindi, one in English, neither declaring
its language the way a page should (the Hindi one comes in an English template, as Hindi editions
of Indian papers often do), and a feed that lists them."""

from __future__ import annotations

from tests.support.newsserver import NewsServer, Route
from tests.support.site import rss

HINDI_PAGE = (
    '<html lang="en"><head><meta charset="utf-8"><title>इसरो ने मौसम उपग्रह प्रक्षेपित किया</title></head><body>'
    "<nav><a href='/'>होम</a> <a href='/desh'>देश</a></nav><article><h1>इसरो ने नया मौसम उपग्रह सफलतापूर्वक प्रक्षेपित किया</h1>"
    "<p>भारतीय अंतरिक्ष अनुसंधान संगठन (इसरो) ने बुधवार को श्रीहरिकोटा से एक नए मौसम उपग्रह का सफल प्रक्षेपण किया। "
    "वैज्ञानिकों के अनुसार यह उपग्रह मानसून की भविष्यवाणी को और सटीक बनाने में मदद करेगा।</p>"
    "<p>इसरो के अध्यक्ष ने कहा कि उपग्रह से मिलने वाले आंकड़े किसानों, मछुआरों और आपदा प्रबंधन एजेंसियों को समय पर "
    "चेतावनी देने में उपयोगी होंगे। यह मिशन पूरी तरह स्वदेशी तकनीक पर आधारित है।</p>"
    "<p>प्रधानमंत्री ने वैज्ञानिकों को बधाई देते हुए कहा कि अंतरिक्ष क्षेत्र में भारत की आत्मनिर्भरता लगातार बढ़ रही है। "
    "सरकार ने हाल ही में निजी कंपनियों के लिए भी अंतरिक्ष क्षेत्र को खोला है।</p>"
    "</article><footer>© 2026</footer></body></html>"
)

ENGLISH_PAGE = (
    "<html><head><meta charset='utf-8'><title>Cabinet approves river-linking project</title></head><body>"
    "<nav><a href='/'>Home</a></nav><article><h1>Cabinet approves the second phase of a river-linking project</h1>"
    "<p>The Union Cabinet on Wednesday approved the second phase of a project to link two rivers in central India, which "
    "officials said would irrigate drought-prone districts and supply drinking water to several towns.</p>"
    "<p>The project will be funded jointly by the Centre and the two States through which the rivers flow, and an "
    "environmental monitoring committee will report on its effect on a tiger reserve along the route.</p>"
    "<p>Experts cautioned that inter-basin transfers change sediment flows and groundwater recharge downstream, and "
    "asked the government to publish the project's hydrological studies.</p>"
    "</article><footer>© 2026</footer></body></html>"
)

PAGES = {"/desh/isro-upgrah.html": HINDI_PAGE, "/national/river-linking.html": ENGLISH_PAGE}


def serve(server: NewsServer) -> str:
    """Route the two pages and a feed listing them; returns a feeds.yaml for that feed."""
    for path, page in PAGES.items():
        server.routes[path] = Route(page.encode("utf-8"))
    server.routes["/feeds/languages.rss"] = Route(
        rss([(path, server.url(path)) for path in PAGES]), content_type="application/rss+xml"
    )
    return f"""sources:
  - name: test-languages
    feeds: ["{server.url("/feeds/languages.rss")}"]
    rate_limit_per_s: 0
"""
