import pytest

from upscway.tasks.scrape.urls import AddressPolicy, InvalidUrlError, canonicalize_url


@pytest.mark.parametrize(
    "raw, canonical",
    [
        (
            "https://WWW.TheHindu.com/news/national/x.ece?utm_source=rss&utm_medium=feed#comments",
            "https://www.thehindu.com/news/national/x.ece",
        ),
        ("http://indianexpress.com:80/article/a/?fbclid=abc&gclid=1", "http://indianexpress.com/article/a/"),
        (
            "https://pib.gov.in:443/PressReleasePage.aspx?PRID=2104567&utm_campaign=x",
            "https://pib.gov.in/PressReleasePage.aspx?PRID=2104567",
        ),
        ("https://example.com?b=2&a=1", "https://example.com/?a=1&b=2"),
        ("https://example.com:8443/p?ref=home&id=7", "https://example.com:8443/p?id=7"),
        ("  https://user:pw@Example.com./p  ", "https://example.com/p"),
    ],
)
def test_canonicalize(raw, canonical):
    assert canonicalize_url(raw) == canonical


def test_canonical_form_is_stable():
    url = "https://www.livemint.com/economy/x.html?page=2&utm_source=a"
    assert canonicalize_url(canonicalize_url(url)) == canonicalize_url(url)


@pytest.mark.parametrize("bad", ["ftp://example.com/x", "/relative/path", "javascript:alert(1)", "https://"])
def test_rejects_non_http_urls(bad):
    with pytest.raises(InvalidUrlError):
        canonicalize_url(bad)


def test_address_policy_forbids_loopback_and_private_unless_allowed():
    strict = AddressPolicy([])
    assert "non-public address 127.0.0.1" in strict.refusal("http://127.0.0.1:8000/x")
    assert "non-public" in strict.refusal("http://10.1.2.3/x")
    assert "non-public" in strict.refusal("http://169.254.169.254/latest/meta-data")
    assert "non-public" in strict.refusal("http://[::1]/x")
    assert "non-public" in strict.refusal("http://localhost/x")

    demo = AddressPolicy(["127.0.0.1/32"])
    assert demo.refusal("http://127.0.0.1:8000/x") is None
    assert "127.0.0.2" in demo.refusal("http://127.0.0.2:8000/x")


def test_address_policy_allows_public_addresses():
    assert AddressPolicy([]).refusal("http://93.184.216.34/x") is None
