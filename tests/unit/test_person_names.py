"""Search keys of Indonesian names: the spellings of one name share a key, others do not."""

import pytest

from domain.person_names import given_name_key, name_key, village_key


@pytest.mark.parametrize(
    "spellings",
    [
        # Ejaan Van Ophuijsen / Republik to EYD: oe -> u, dj -> j, tj -> c, j -> y.
        ("Soekarno", "Sukarno"),
        ("Soeharto", "Suharto"),
        ("Djoko", "Joko"),
        ("Djuanda", "Juanda"),
        ("Tjahjono", "Cahyono", "Tjahyono"),
        ("Tjokroaminoto", "Cokroaminoto"),
        ("Nurhayati", "Nurhajati", "Nur Hayati", "Noerhajati"),
        ("Jusuf", "Yusuf"),
        # sj -> sy (-> s), nj -> ny, ch -> kh.
        ("Sjahrir", "Syahrir"),
        ("Syamsul", "Samsul"),
        ("Njoman", "Nyoman"),
        ("Chairul", "Khairul"),
        ("Qomariyah", "Komariah"),
        # The Muhammad family and its abbreviations.
        ("Muhammad", "Muhamad", "Mochammad", "Mochamad", "Mohammad", "Moh.", "Muh.", "M."),
        ("Muhammad Rizki", "Moh. Rizky", "M. Rizki", "Mochamad Rizky"),
        # Doubled letters, dropped h, y and i.
        ("Hassan", "Hasan"),
        ("Fatimah", "Fatima"),
        ("Abdul Lathif", "Abdul Latif", "Abdulatif"),
        ("Suryani", "Suriani"),
        # Titles and forms of address.
        ("Hj. Siti Aminah", "H. Siti Aminah", "Siti Aminah", "Ibu Siti Aminah"),
        ("Sdr. Andi", "Andi", "Saudara Andi"),
        ("Ny. Tjitjih", "Cicih"),
        ("Ahmad bin Sulaiman", "Ahmad Bin Sulaiman", "H. Ahmad bin Soelaiman"),
        ("Siti binti Yusuf", "Siti bt. Jusuf"),
        ("Dédé", "Dede"),
    ],
)
def test_spellings_of_one_name_share_its_key(spellings: tuple[str, ...]):
    keys = {name_key(spelling) for spelling in spellings}

    assert len(keys) == 1, dict(zip(spellings, map(name_key, spellings), strict=True))


@pytest.mark.parametrize(
    ("one", "other"),
    [("Sukarno", "Suharto"), ("Joko", "Jaka"), ("Siti Aminah", "Siti Aisyah"), ("Ani", "Ana")],
)
def test_different_names_keep_different_keys(one: str, other: str):
    assert name_key(one) != name_key(other)


def test_bin_and_binti_keep_the_fathers_name_in_the_key_and_out_of_the_given_name():
    assert name_key("Ahmad bin Sulaiman") != name_key("Ahmad bin Yusuf")
    assert given_name_key("Ahmad bin Sulaiman") == given_name_key("Ahmad") == name_key("Ahmad")
    assert given_name_key("Siti binti Yusuf") == name_key("Siti")


def test_a_title_alone_is_kept_as_the_name_it_is():
    # A girl may be called Nona, a boy Haji: a title is set aside only before a name.
    assert name_key("Nona") == "nona"
    assert name_key("Sdr. Nona") == "nona"


def test_nothing_but_punctuation_has_no_key():
    assert name_key("...") == "" and given_name_key(" - ") == ""


@pytest.mark.parametrize(
    "spellings",
    [
        ("Baebunta", "Desa Baebunta", "desa baeboenta", "Ds. Baebunta"),
        ("Kelurahan Sabbang", "Kel. Sabang", "Sabbang"),
        ("Tjitarum", "Citarum"),
    ],
)
def test_a_villages_spellings_and_prefixes_share_its_key(spellings: tuple[str, ...]):
    assert len({village_key(spelling) for spelling in spellings}) == 1
