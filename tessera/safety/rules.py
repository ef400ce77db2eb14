"""Rules for unambiguous terms, per category, and the named-person detector.

Rules catch what needs no judgement (explicit terms, a minor together with sexual content, "real footage of
<a public figure>"); paraphrase and euphemism are the learned classifier's job. Patterns are matched on
every reading of the prompt (see :mod:`tessera.safety.normalize`): with word boundaries on ordinary readings,
and as bare substrings on readings whose letters were joined back together.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

CATEGORIES = {
    "minors": "sexual content involving minors",
    "sexual": "adult sexual content",
    "real_people": "likeness of real, identifiable people, deepfakes and fake news footage",
    "violence": "graphic violence and gore",
    "self_harm": "self-harm and suicide",
    "hate": "hate and harassment",
    "extremism": "violent extremism",
    "weapons": "instructions for weapons and illicit acts",
    "copyright": "copyrighted characters (operator option)",
}


def _any(words: str) -> str:
    """A non-capturing alternation of comma-separated regex pieces (readable word lists)."""
    return "(?:" + "|".join(w.strip() for w in words.split(",") if w.strip()) + ")"


MINOR = _any(
    "child, children, kid, kids, minor, minors, underage, under-age, preteen, pre-teen, toddler, infant, baby,"
    "schoolgirl, schoolboy, little (?:girl|boy), young (?:girl|boy), (?:[1-9]|1[0-7])[- ]?(?:year|yr)s?[- ]?old,"
    "teen, teenager, teens, loli, shota, nino, nina, enfant, little ones?"
)
SEXUAL = _any(
    r"nude, naked, nudity, sexual, sexually, sexualized, sexy, sex, erotic, porn, porno, pornographic, lingerie,"
    r"molest\w*, grop\w+, touched inappropriately, for adults, lingering on (?:her|his|their) body,"
    r"undress(?:ed|ing)?, stripping, striptease, seductive, topless, nsfw, genital\w*, aroused, fondl\w+,"
    r"desnud[oa]s?, nackt, nue, nues"
)

TERMS: dict[str, list[str]] = {
    "minors": [
        r"nackte?s? kind\w*",
        r"child brides?",
        r"playing doctor",
        r"child porn\w*",
        r"\bcp\b",
        r"csam",
        r"jailbait",
        r"pedo\w*",
        r"paedo\w*",
        r"lolicon",
        r"shotacon",
    ],
    "sexual": [
        r"sexo explicito",
        r"pornovideo",
        r"video porno",
        r"porn\w*",
        r"hentai",
        r"xxx",
        r"nsfw",
        r"sex scene",
        r"having sex",
        r"sex tape",
        r"explicit sex\w*",
        r"orgasm\w*",
        r"genitals?",
        r"penis",
        r"vagina",
        r"blowjob",
        r"handjob",
        r"masturbat\w+",
        r"striptease",
        r"onlyfans",
        r"erotic (?:video|film|scene)",
        r"fully naked",
        r"completely nude",
        r"nude (?:woman|man|girl|boy|body|couple)",
        r"naked (?:woman|man|girl|boy|body|couple)",
        r"topless (?:woman|girl)",
        r"sexual intercourse",
    ],
    "real_people": [
        r"deep ?fakes?",
        r"face ?swap\w*",
        r"(?:real|authentic|leaked|genuine|secret|hidden[- ]camera|cctv|bodycam|news) "
        r"(?:footage|video|recording|clip) of (?:the )?(?:president|prime minister|senator|pope|king|queen|ceo)",
        r"fake news (?:footage|video|clip)",
        r"make it look (?:real|authentic|like real footage)",
    ],
    "violence": [
        r"decapitad\w*",
        r"enthauptung",
        r"decapite\w*",
        r"desmembrad\w*",
        r"gore",
        r"gory",
        r"beheading",
        r"decapitat\w+",
        r"dismember\w*",
        r"disembowel\w*",
        r"mutilat\w+",
        r"eviscerat\w+",
        r"snuff (?:film|video)",
        r"torture porn",
        r"guts spilling",
        r"skull (?:crushed|smashed)",
        r"blood (?:spraying|gushing|splatter\w*) everywhere",
        r"flayed alive",
        r"burned alive",
        r"execution video",
        r"(?:shooting|stabbing|killing) (?:a|the) (?:real )?(?:person|man|woman|child) (?:in the head|to death)",
    ],
    "self_harm": [
        r"how to (?:kill|hang|cut|hurt|harm) (?:myself|yourself|oneself)",
        r"suicide (?:method|tutorial|guide|instructions)",
        r"(?:slit|slitting|cutting) (?:my|her|his|their|your) wrists",
        r"self[- ]harm (?:tutorial|guide|tips)",
        r"pro[- ]ana",
        r"thinspo\w*",
        r"overdose (?:on purpose|tutorial|guide)",
        r"kill (?:myself|yourself|themselves|himself|herself|oneself)",
        r"end (?:it all|their lives|your life|my life)",
        r"suicidarse",
        r"se suicider",
        r"se matar",
        r"pulsadern",
        r"(?:encourag\w+|glorif\w+|romantici[sz]\w+) (?:suicide|self[- ]harm)",
    ],
    "hate": [
        # Dehumanising a group: the group and the slur in one clause.
        _any(
            "jews, muslims, christians, black people, blacks, gays, lesbians, trans people, immigrants, refugees,"
            "mexicans, asians, arabs, women, roma, gypsies, migrants"
        )
        + r"\b[^.;]{0,40}?\b"
        + _any("vermin, animals, subhuman, diseases?, rats, cockroaches, parasites, apes, monkeys, untermenschen"),
        r"untermenschen",
        r"vermine a exterminer",
        r"alimanas que hay que exterminar",
        r"gas the \w+",
        r"(?:subhuman|vermin|inferior race|mongrel race)",
        r"ethnic cleansing is (?:good|right|needed)",
        r"white (?:power|genocide)",
        r"heil hitler",
        r"sieg heil",
        r"race war now",
        r"(?:kill|exterminate|eradicate) all (?:the )?\w+s\b",
        r"(?:jews|muslims|christians|blacks|gays|immigrants|women) (?:are|r) (?:vermin|animals|subhuman|a disease)",
    ],
    "extremism": [
        r"(?:bomb|blow up|attack|shoot up|massacre|strike) (?:a |the )?crowded \w+",
        r"(?:recruit|train)\w* [^.;]{0,25}\b(?:for|to) (?:terror\w*|jihad|bomb\w*|attack\w*|kill\w*)",
        r"holy war against (?:the )?(?:unbelievers|infidels|kafirs)",
        r"lone wolf|lone wolves",
        r"soft targets?",
        r"califato",
        r"islamischen staat",
        r"daech",
        r"daesh",
        r"isis (?:propaganda|recruitment|video)",
        r"jihadi? (?:recruitment|propaganda|beheading)",
        r"terrorist recruitment",
        r"(?:glorif\w+|celebrat\w+|honou?r\w*) (?:the )?"
        + _any("mass shooter, school shooter, terrorist attack, christchurch shooter"),
        r"join (?:isis|al[- ]qaeda|the caliphate)",
        r"(?:school|mass) shooting (?:from the )?(?:shooter'?s )?(?:pov|point of view|first person)",
        r"manifesto (?:video|reading) (?:of|by) (?:the )?shooter",
        r"martyrdom (?:video|operation)",
    ],
    "weapons": [
        r"bomba casera",
        r"rohrbombe",
        r"bombe artisanale",
        r"metanfetamina",
        r"how to (?:make|build|assemble|construct|3d[- ]print) (?:a |an )?"
        + _any(r"bomb, pipe bomb, ied, explosive\w*, gun, firearm, silencer, suppressor, ghost gun, molotov"),
        r"(?:step[- ]by[- ]step|tutorial|instructions|recipe|guide)\b.{0,40}\b"
        + _any("bomb, explosive, meth, methamphetamine, fentanyl, nerve agent, sarin, ricin, napalm, ghost gun"),
        r"(?:cook|synthesi[sz]e|make|produce) (?:meth|methamphetamine|crystal meth|fentanyl|heroin|cocaine|lsd|mdma)",
        r"how to (?:poison|pick a lock to break in|hotwire|launder money|make counterfeit)",
        r"pipe bomb",
        r"nerve agent",
    ],
    "copyright": [
        r"mickey mouse",
        r"spider-?man",
        r"batman",
        r"superman",
        r"darth vader",
        r"pikachu",
        r"pokemon",
        r"super mario",
        r"harry potter",
        r"elsa from frozen",
        r"shrek",
        r"homer simpson",
        r"sonic the hedgehog",
        r"iron man",
        r"yoda",
    ],
}


@dataclass
class Hit:
    category: str
    pattern: str
    text: str


@cache
def public_figures() -> tuple[str, ...]:
    """Names of public figures (one per line in data/public_figures.txt); operators extend it by config."""
    text = resources.files("tessera.safety").joinpath("data/public_figures.txt").read_text(encoding="utf-8")
    return tuple(line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#"))


@cache
def _compiled(extra_people: tuple[str, ...] = ()) -> dict[str, list[re.Pattern]]:
    out = {k: [re.compile(rf"\b{p}\b") for p in v] for k, v in TERMS.items()}
    out["minors"].append(re.compile(rf"\b{MINOR}\b.*\b{SEXUAL}\b|\b{SEXUAL}\b.*\b{MINOR}\b"))
    names = sorted(set(public_figures()) | set(extra_people), key=len, reverse=True)
    people = "|".join(re.escape(n) for n in names)
    out["real_people"].append(re.compile(rf"\b(?:{people})\b"))
    return out


def match(reading: str, loose: bool = False, extra_people: tuple[str, ...] = ()) -> list[Hit]:
    """Rule hits in one reading; ``loose`` readings (letters joined back) match terms as bare substrings."""
    hits = []
    for category, patterns in _compiled(extra_people).items():
        for pattern in patterns:
            source = pattern.pattern
            if loose:
                pattern = re.compile(source.replace(r"\b", ""))
            if pattern.search(reading):
                hits.append(Hit(category, source[:60], reading))
                break
    return hits


def names_in(reading: str, extra_people: tuple[str, ...] = ()) -> list[str]:
    names = set(public_figures()) | set(extra_people)
    return [n for n in names if re.search(rf"\b{re.escape(n)}\b", reading)]
