from pathlib import Path

from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from django.utils import translation

LOCALE = Path(__file__).resolve().parents[2] / "src/fangkong/locale/zh_Hans/LC_MESSAGES"


def test_catalogue_is_complete_and_compiled():
    with (LOCALE / "django.po").open("rb") as po, (LOCALE / "django.mo").open("rb") as mo:
        source, compiled = read_po(po), read_mo(mo)

    def strings(catalog):
        return {
            (tuple(m.id) if isinstance(m.id, (list, tuple)) else m.id): tuple(m.string)
            if isinstance(m.string, (list, tuple))
            else (m.string,)
            for m in catalog
            if m.id
        }

    assert [key for key, texts in strings(source).items() if not all(texts)] == []
    assert strings(source) == strings(compiled)


def test_chinese_is_the_default_and_english_switchable(client, world):
    client.force_login(world.users["tracer_a"])
    assert "人员" in client.get("/").content.decode()
    client.post("/i18n/setlang/", {"language": "en"})
    assert "Find a person" in client.get("/").content.decode()


def test_accept_language_english(client, world):
    client.force_login(world.users["tracer_a"])
    with translation.override("en"):
        page = client.get("/", headers={"accept-language": "en"}).content.decode()
    assert "People" in page
