"""The Unicode class names Go's regexp knows in `\\p{...}`, and how it matches them.

Go 1.25 began matching names loosely (Unicode TR18: case, spaces, '-' and '_' ignored), which
RE2 C++ does not, so `\\p{greek}` and `\\p{Letter}` are valid in Go and errors in RE2; but Go
canonicalises only the name asked for, so a script whose table key is not itself canonical
(`Old_Italic`, `SignWriting`) cannot be named at all. The tables are Go 1.26's (Unicode 15.0).
"""

from __future__ import annotations


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# unicode.Categories (with LC and Cn, added in Go 1.25), unicode.CategoryAliases and
# unicode.Scripts at Unicode 15.1, the tables of the Go release Kargo builds with.
_GO_CATEGORIES = _words(
    """
    C Cc Cf Cn Co Cs L Ll Lm Lo Lt Lu M Mc Me Mn N Nd Nl No P Pc Pd Pe Pf Pi Po Ps S Sc Sk Sm So
    Z Zl Zp Zs
    """
)
_GO_CATEGORY_ALIASES = _words(
    """
    Other Control cntrl Format Unassigned Private_Use Surrogate Letter Cased_Letter
    Lowercase_Letter Modifier_Letter Other_Letter Titlecase_Letter Uppercase_Letter Mark
    Combining_Mark Spacing_Mark Enclosing_Mark Nonspacing_Mark Number Decimal_Number digit
    Letter_Number Other_Number Punctuation punct Connector_Punctuation Dash_Punctuation
    Close_Punctuation Final_Punctuation Initial_Punctuation Other_Punctuation Open_Punctuation
    Symbol Currency_Symbol Modifier_Symbol Math_Symbol Other_Symbol Separator Line_Separator
    Paragraph_Separator Space_Separator
    """
)
_GO_SCRIPTS = _words(
    """
    Adlam Ahom Anatolian_Hieroglyphs Arabic Armenian Avestan Balinese Bamum Bassa_Vah Batak
    Bengali Bhaiksuki Bopomofo Brahmi Braille Buginese Buhid Canadian_Aboriginal Carian
    Caucasian_Albanian Chakma Cham Cherokee Chorasmian Common Coptic Cuneiform Cypriot
    Cypro_Minoan Cyrillic Deseret Devanagari Dives_Akuru Dogra Duployan Egyptian_Hieroglyphs
    Elbasan Elymaic Ethiopic Georgian Glagolitic Gothic Grantha Greek Gujarati Gunjala_Gondi
    Gurmukhi Han Hangul Hanifi_Rohingya Hanunoo Hatran Hebrew Hiragana Imperial_Aramaic
    Inherited Inscriptional_Pahlavi Inscriptional_Parthian Javanese Kaithi Kannada Katakana Kawi
    Kayah_Li Kharoshthi Khitan_Small_Script Khmer Khojki Khudawadi Lao Latin Lepcha Limbu
    Linear_A Linear_B Lisu Lycian Lydian Mahajani Makasar Malayalam Mandaic Manichaean Marchen
    Masaram_Gondi Medefaidrin Meetei_Mayek Mende_Kikakui Meroitic_Cursive Meroitic_Hieroglyphs
    Miao Modi Mongolian Mro Multani Myanmar Nabataean Nag_Mundari Nandinagari New_Tai_Lue Newa
    Nko Nushu Nyiakeng_Puachue_Hmong Ogham Ol_Chiki Old_Hungarian Old_Italic Old_North_Arabian
    Old_Permic Old_Persian Old_Sogdian Old_South_Arabian Old_Turkic Old_Uyghur Oriya Osage
    Osmanya Pahawh_Hmong Palmyrene Pau_Cin_Hau Phags_Pa Phoenician Psalter_Pahlavi Rejang Runic
    Samaritan Saurashtra Sharada Shavian Siddham SignWriting Sinhala Sogdian Sora_Sompeng
    Soyombo Sundanese Syloti_Nagri Syriac Tagalog Tagbanwa Tai_Le Tai_Tham Tai_Viet Takri Tamil
    Tangsa Tangut Telugu Thaana Thai Tibetan Tifinagh Tirhuta Toto Ugaritic Vai Vithkuqi Wancho
    Warang_Citi Yezidi Yi Zanabazar_Square
    """
)


def _canonical_name(name: str) -> str:
    """Go's canonicalName: drop '_', '-' and ' '; first letter upper case, the rest lower."""
    out: list[str] = []
    first = True
    for c in name:
        if c in "_- ":
            continue
        if first:
            out.append(c.upper() if "a" <= c <= "z" else c)
            first = False
        else:
            out.append(c.lower() if "A" <= c <= "Z" else c)
    return "".join(out)


# Go canonicalises the name, then looks it up in unicode.Categories and unicode.Scripts as they
# are keyed, and in a canonicalised copy of unicode.CategoryAliases only. So a script whose key is
# not itself canonical (`Old_Italic`, `SignWriting`) is unreachable in Go 1.26 by any spelling:
# `\p{Old_Italic}` is an error there, as the Go oracle test shows.
_GO_UNICODE_CLASS_NAMES = frozenset(
    {"Any", "Assigned", "Ascii", "Lc"}
    | _GO_CATEGORIES
    | _GO_SCRIPTS
    | {_canonical_name(n) for n in _GO_CATEGORY_ALIASES}
)


def is_go_unicode_class(name: str) -> bool:
    """Whether Go's unicodeTable knows `name` (matched loosely, per Unicode TR18, since 1.25;
    scripts only by a one-word name, see above).

    RE2 C++ only takes exact category and script names, so `\\p{greek}`, `\\p{Letter}` and
    `\\p{ASCII}` are Go-only.
    """
    return _canonical_name(name) in _GO_UNICODE_CLASS_NAMES
