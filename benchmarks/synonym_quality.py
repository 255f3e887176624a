"""Hand-checked quality of SynonymReplace before and after the part-of-speech-aware table.

Sample: ``dataperf.text.wordnet_sentences(100, seed=2024, min_words=8, max_words=20)``, real
English sentences (WordNet usage examples and definitions). Sentence ``i`` is augmented with
``SynonymReplace(0.3)`` and ``np.random.default_rng(i)``:

- **before**: the implementation at commit 75cd2f9 (every sense and part of speech of the word,
  base forms only), loaded from git history;
- **after**: the current one (the synonym table: the word's most frequent part of speech and one
  or two most frequent senses, inflection kept, names and fixed expressions left alone).

Rubric, judged by hand one sentence at a time: an output is **acceptable** when the sentence
keeps its meaning and its grammar (spelling variants such as "endeavour", and a slightly less
usual but correct word, are fine; a wrong sense, a wrong part of speech, a missing article or a
changed technical term are not). An unchanged sentence is acceptable by definition, so the
script reports both the share of all 100 and the share of the changed ones.

``SAMPLE`` stores each sentence, both outputs and both verdicts, so anyone can re-check them. The
script regenerates the outputs and says which differ from the stored ones (outputs change when
the table or the WordNet data changes; the verdicts then need a new look).

Judged (one pass, by the author of the table):

| version | changed | acceptable of changed | acceptable of all 100 |
| --- | ---: | ---: | ---: |
| before (75cd2f9) | 69 | 14 (20%) | 45% |
| after | 27 | 15 (56%) | 88% |

Typical failures left after: the dominant sense is not the one meant ("hard wood" ->
"difficult wood", "plant" -> "works" in botany glosses, "view" -> "perspective"); a technical
phrase ("normally distributed" -> "ordinarily distributed"); a noun read as a verb
("compound" -> "combine").

Run: ``NO_ALBUMENTATIONS_UPDATE=1 .venv/bin/python benchmarks/synonym_quality.py``
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from synonym_speed import old_synonym_replace  # noqa: E402

from dataperf import text  # noqa: E402

# id -> sentence, outputs before/after, and the hand verdicts (True: acceptable).
SAMPLE = {
    0: {
        "sentence": "I kept myself up all night studying for the exam.",
        "before": "I kept myself up all nighttime perusing for the test.",
        "after": "I kept myself up all night studying for the exam.",
        "before_ok": False,
        "after_ok": True,
    },
    1: {
        "sentence": "(Christianity) the Christian doctrine that the body of Christ is actually "
        "present in the Eucharist.",
        "before": "(Christianity) the Christian doctrine that the body of Messiah is actually "
        "present in the Eucharist.",
        "after": "(Christianity) the Christian doctrine that the body of Christ is actually "
        "demonstrate in the Eucharist.",
        "before_ok": False,
        "after_ok": False,
    },
    2: {
        "sentence": "Could scarcely empty a scuttle of ashes, so handless was the poor creature.",
        "before": "Could just empty a hatchway of ashes, so handless was the hapless creature.",
        "after": "Could hardly empty a scurry of ashes, so handless was the poor animal.",
        "before_ok": False,
        "after_ok": False,
    },
    3: {
        "sentence": "The act of pursuing in an effort to overtake or capture.",
        "before": "The bit of pursuing in an endeavour to overtake or capture.",
        "after": "The act of pursuing in an endeavor to overhaul or capture.",
        "before_ok": False,
        "after_ok": True,
    },
    4: {
        "sentence": "A vitrified substance; the glassy result of being vitrified.",
        "before": "A vitrified substance; the glassy issue of being vitrified.",
        "after": "A vitrified substance; the glassy result of being vitrified.",
        "before_ok": False,
        "after_ok": True,
    },
    5: {
        "sentence": "Type genus of the Majidae; nearly cosmopolitan in distribution.",
        "before": "Type genus of the Majidae; nearly cosmopolitan in dispersion.",
        "after": "Type genus of the Majidae; nearly cosmopolitan in distribution.",
        "before_ok": True,
        "after_ok": True,
    },
    6: {
        "sentence": "An award given annually for contributions to French literature.",
        "before": "An award given annually for contributions to French literature.",
        "after": "An award given annually for contributions to French literature.",
        "before_ok": True,
        "after_ok": True,
    },
    7: {
        "sentence": "The craniometric point on the sagittal suture near the lamboid suture.",
        "before": "The craniometric point on the sagittal suture skinny the lamboid suture.",
        "after": "The craniometric point on the sagittal suture near the lamboid suture.",
        "before_ok": False,
        "after_ok": True,
    },
    8: {
        "sentence": "A person who joins with others in some activity or endeavor.",
        "before": "A person who joins with others in some activity or endeavor.",
        "after": "A person who joins with others in some activity or endeavor.",
        "before_ok": True,
        "after_ok": True,
    },
    9: {
        "sentence": "We caught something of his theory in the lecture.",
        "before": "We caught something of his theory in the reprimand.",
        "after": "We caught something of his theory in the lecture.",
        "before_ok": False,
        "after_ok": True,
    },
    10: {
        "sentence": "Common edible mushroom having an elongated shaggy white cap and black spores.",
        "before": "Common victuals mushroom having an elongated bushy white roof and black spores.",
        "after": "Common edible mushroom having an elongated shaggy white cap and black spores.",
        "before_ok": False,
        "after_ok": True,
    },
    11: {
        "sentence": "Ranges from Central America to southwestern United States.",
        "before": "Ranges from Cardinal America to southwestern United States.",
        "after": "Compasses from Central America to southwestern United States.",
        "before_ok": False,
        "after_ok": False,
    },
    12: {
        "sentence": "She looked rearward out the window of the car.",
        "before": "She looked backward out the window of the gondola.",
        "after": "She looked backward out the window of the car.",
        "before_ok": False,
        "after_ok": True,
    },
    13: {
        "sentence": "A social scientist who studies the institutions and development of human "
        "society.",
        "before": "A social scientist who studies the institutions and development of human club.",
        "after": "A social scientist who studies the institutions and development of human "
        "society.",
        "before_ok": False,
        "after_ok": True,
    },
    14: {
        "sentence": "A trance induced by the use of hypnosis; the person accepts the suggestions "
        "of the hypnotist.",
        "before": "A trance induced by the use of hypnosis; the person accepts the suggestions of "
        "the hypnotist.",
        "after": "A trance induced by the use of hypnosis; the person accepts the suggestions of "
        "the hypnotist.",
        "before_ok": True,
        "after_ok": True,
    },
    15: {
        "sentence": "Retardation sufficient to fall outside the normal range of intelligence.",
        "before": "Retardation sufficient to fall outside the pattern range of tidings.",
        "after": "Retardation sufficient to fall outside the normal range of intelligence.",
        "before_ok": False,
        "after_ok": True,
    },
    16: {
        "sentence": "Make disjoint, separated, or disconnected; undo the joining of.",
        "before": "Make disjoint, spaced, or disconnected; undo the connexion of.",
        "after": "Make disjoint, separated, or disconnected; undo the joining of.",
        "before_ok": False,
        "after_ok": True,
    },
    17: {
        "sentence": "His labor did not require a great deal of skill.",
        "before": "His labor did not expect a great deal of acquisition.",
        "after": "His labor did not need a great deal of skill.",
        "before_ok": False,
        "after_ok": True,
    },
    18: {
        "sentence": "The highest level of an occupation (especially in entertainment).",
        "before": "The highest level of an occupation (specially in amusement).",
        "after": "The highest level of an occupation (particularly in entertainment).",
        "before_ok": True,
        "after_ok": True,
    },
    19: {
        "sentence": "A buckeye marked by different colors or tints.",
        "before": "A buckeye marked by dissimilar colours or tints.",
        "after": "A buckeye marked by different colors or tints.",
        "before_ok": True,
        "after_ok": True,
    },
    20: {
        "sentence": "Arrange the books on the shelves in chronological order.",
        "before": "Coiffe the books on the shelves in chronological order.",
        "after": "Arrange the books on the shelves in chronological order.",
        "before_ok": False,
        "after_ok": True,
    },
    21: {
        "sentence": "(of the elements) in a wild and stormy manner.",
        "before": "(of the elements) in a wild and stormy manner.",
        "after": "(of the elements) in a wild and stormy manner.",
        "before_ok": True,
        "after_ok": True,
    },
    22: {
        "sentence": "We escaped to our summer house for a few days.",
        "before": "We escaped to our summertime theatre for a few days.",
        "after": "We escaped to our summer house for a few days.",
        "before_ok": False,
        "after_ok": True,
    },
    23: {
        "sentence": "The Marshall Plan helped Europe recover from World War II.",
        "before": "The Marshall Plan helped Europe regain from Earth War II.",
        "after": "The Marshall Plan helped Europe recover from World War II.",
        "before_ok": False,
        "after_ok": True,
    },
    24: {
        "sentence": "An assertion of a right (as to money or property).",
        "before": "An assertion of a right (as to money or property).",
        "after": "An assertion of a right (as to money or property).",
        "before_ok": True,
        "after_ok": True,
    },
    25: {
        "sentence": "Line that is the commercial organization responsible for operating a system "
        "of transportation for trains that pull passengers or freight.",
        "before": "Pipeline that is the commercial arrangement creditworthy for operating a system "
        "of transferral for trains that twist passengers or freight.",
        "after": "Line that is the commercial organization responsible for operating a system of "
        "transportation for trains that draw passengers or cargo.",
        "before_ok": False,
        "after_ok": True,
    },
    26: {
        "sentence": "An automatic instinctive unlearned reaction to a stimulus.",
        "before": "An automatic natural unconditioned reaction to a stimulus.",
        "after": "An automatic instinctive unlearned reaction to a stimulant.",
        "before_ok": True,
        "after_ok": False,
    },
    27: {
        "sentence": "All my money is tied up in long-term investments.",
        "before": "All my money is tied up in long-term investments.",
        "after": "All my money is tied up in long-term investments.",
        "before_ok": True,
        "after_ok": True,
    },
    28: {
        "sentence": "Am unwanted reflection in an optical system (or the fogging of an image that "
        "is caused by such a reflection).",
        "before": "Am unwanted reflection in an optical system (or the fogging of an icon that is "
        "caused by such a rumination).",
        "after": "Am unwanted reflection in an optical system (or the fogging of an image that is "
        "caused by such a reflection).",
        "before_ok": False,
        "after_ok": True,
    },
    29: {
        "sentence": "Pantropical genus of somewhat poisonous shrubs and small trees.",
        "before": "Pantropic genus of somewhat poisonous shrubs and belittled trees.",
        "after": "Pantropical genus of slightly poisonous shrubs and small trees.",
        "before_ok": False,
        "after_ok": True,
    },
    30: {
        "sentence": "A prisonlike situation; a place of seeming confinement.",
        "before": "A prisonlike position; a place of seeming restriction.",
        "after": "A prisonlike situation; a place of seeming confinement.",
        "before_ok": True,
        "after_ok": True,
    },
    31: {
        "sentence": "A sum of money spoken of as the contents of a money purse.",
        "before": "A sum of money spoken of as the contents of a money pocketbook.",
        "after": "A sum of money spoken of as the contents of a money handbag.",
        "before_ok": True,
        "after_ok": True,
    },
    32: {
        "sentence": "The act of visiting in an official capacity (as for an inspection).",
        "before": "The pretend of visiting in an official capacity (as for an inspection).",
        "after": "The act of visiting in an official capacity (as for an inspection).",
        "before_ok": False,
        "after_ok": True,
    },
    33: {
        "sentence": "Chilean evergreen shrub having delicate spikes of small white flowers.",
        "before": "Chilean evergreen shrub having delicate spikes of small livid flowers.",
        "after": "Chilean evergreen shrub having delicate spikes of small white flowers.",
        "before_ok": False,
        "after_ok": True,
    },
    34: {
        "sentence": "A river steamboat on which theatrical performances could be given (especially "
        "on the Mississippi River).",
        "before": "A river steamboat on which representation performances could be given "
        "(peculiarly on the Mississippi River).",
        "after": "A river steamboat on which theatrical performances could be given (specially on "
        "the Mississippi River).",
        "before_ok": False,
        "after_ok": True,
    },
    35: {
        "sentence": "Representation of something (sometimes on a smaller scale).",
        "before": "Representation of something (sometimes on a smaller scale).",
        "after": "Representation of something (sometimes on a smaller scale).",
        "before_ok": True,
        "after_ok": True,
    },
    36: {
        "sentence": "Any plant of the genus Lupinus; bearing erect spikes of usually purplish-blue "
        "flowers.",
        "before": "Any implant of the genus Lupinus; bearing erect spikes of usually purplish-blue "
        "flowers.",
        "after": "Any works of the genus Lupinus; bearing erect spikes of usually purplish-blue "
        "flowers.",
        "before_ok": False,
        "after_ok": False,
    },
    37: {
        "sentence": "The sight of that bland, impregnably righteous face has been enough to make "
        "their blood run cold.",
        "before": "The sight of that bland, impregnably righteous boldness has been enough to make "
        "their blood run cold.",
        "after": "The sight of that bland, impregnably righteous face has been enough to make "
        "their blood run cold.",
        "before_ok": False,
        "after_ok": True,
    },
    38: {
        "sentence": "He hated the sameness of the food the college served.",
        "before": "He hated the monotony of the food the college served.",
        "after": "He hated the sameness of the food the college served.",
        "before_ok": True,
        "after_ok": True,
    },
    39: {
        "sentence": "They were restrained by a prohibition in their charter.",
        "before": "They were restrained by a prohibition in their hire.",
        "after": "They were restrained by a prohibition in their charter.",
        "before_ok": False,
        "after_ok": True,
    },
    40: {
        "sentence": "A temporary bridge for getting on and off a vessel at dockside.",
        "before": "A temporary bridge for getting on and off a watercraft at dockside.",
        "after": "A temporary bridge for getting on and off a vessel at dockside.",
        "before_ok": True,
        "after_ok": True,
    },
    41: {
        "sentence": "A Greek unit of weight equal to one tenth of a gram.",
        "before": "A Greek unit of weight rival to one tenth of a gram.",
        "after": "A Greek unit of weight equal to one tenth of a gram.",
        "before_ok": False,
        "after_ok": True,
    },
    42: {
        "sentence": "The act of changing your location in a downward direction.",
        "before": "The act of changing your location in a downward direction.",
        "after": "The act of changing your location in a downward direction.",
        "before_ok": True,
        "after_ok": True,
    },
    43: {
        "sentence": "The rooms were very small but they had a nice view.",
        "before": "The rooms were very lowly but they had a dainty view.",
        "after": "The rooms were very small but they had a nice perspective.",
        "before_ok": False,
        "after_ok": False,
    },
    44: {
        "sentence": "An ancient town founded by the Romans; noted for extensive and well-preserved "
        "ruins.",
        "before": "An antediluvian townspeople founded by the Romans; noted for extensive and "
        "well-preserved ruins.",
        "after": "An ancient town founded by the Romans; noted for extensive and well-preserved "
        "ruins.",
        "before_ok": False,
        "after_ok": True,
    },
    45: {
        "sentence": "Pine lumber with many knots; used especially for paneling and furniture.",
        "before": "Pine lumber with many knots; used especially for paneling and furniture.",
        "after": "Pine lumber with many knots; used especially for paneling and furniture.",
        "before_ok": True,
        "after_ok": True,
    },
    46: {
        "sentence": "The ball-and-socket joint between the head of the femur and the acetabulum.",
        "before": "The ball-and-socket joint between the manoeuver of the thighbone and the "
        "acetabulum.",
        "after": "The ball-and-socket joint between the head of the femur and the acetabulum.",
        "before_ok": False,
        "after_ok": True,
    },
    47: {
        "sentence": "Of or relating to or resembling a square.",
        "before": "Of or relating to or resembling a square.",
        "after": "Of or relating to or resembling a square.",
        "before_ok": True,
        "after_ok": True,
    },
    48: {
        "sentence": "Any of the terminal members of the hand (sometimes excepting the thumb).",
        "before": "Any of the terminal members of the hand (sometimes excepting the thumb).",
        "after": "Any of the terminal members of the hand (sometimes excepting the thumb).",
        "before_ok": True,
        "after_ok": True,
    },
    49: {
        "sentence": "She likes the touch of silk on her skin.",
        "before": "She likes the touch of silk on her skin.",
        "after": "She likes the touch of silk on her skin.",
        "before_ok": True,
        "after_ok": True,
    },
    50: {
        "sentence": "They installed a second hatch as an escape.",
        "before": "They installed a second hatch as an escape.",
        "after": "They installed a second hatch as an escape.",
        "before_ok": True,
        "after_ok": True,
    },
    51: {
        "sentence": "(chemistry) a reaction in which an elementary substance displaces and sets "
        "free a constituent element from a compound.",
        "before": "(chemistry) a reaction in which an simple kernel displaces and sets free a "
        "portion element from a compound.",
        "after": "(chemistry) a reaction in which an elementary substance displaces and sets free "
        "a constituent component from a combine.",
        "before_ok": False,
        "after_ok": False,
    },
    52: {
        "sentence": "A mineral consisting of chloride and vanadate of lead; a source of vanadium.",
        "before": "A mineral consisting of chloride and vanadate of lead; a source of vanadium.",
        "after": "A mineral consisting of chloride and vanadate of lead; a source of vanadium.",
        "before_ok": True,
        "after_ok": True,
    },
    53: {
        "sentence": "The burglars escaped before the police showed up.",
        "before": "The burglars loose before the police showed up.",
        "after": "The burglars escaped before the police showed up.",
        "before_ok": False,
        "after_ok": True,
    },
    54: {
        "sentence": "A correlation coefficient computed for two normally distributed variables "
        "that are both expressed as a dichotomy.",
        "before": "A correlativity coefficient computed for two normally distributed variables "
        "that are both uttered as a dichotomy.",
        "after": "A correlation coefficient computed for two ordinarily distributed variables that "
        "are both expressed as a dichotomy.",
        "before_ok": False,
        "after_ok": False,
    },
    55: {
        "sentence": "Formalwear consisting of full evening dress for men.",
        "before": "Formalwear consisting of full evening frock for workforce.",
        "after": "Formalwear consisting of full evening dress for men.",
        "before_ok": False,
        "after_ok": True,
    },
    56: {
        "sentence": "Subdue, restrain, or overcome by affecting with a feeling of awe; frighten "
        "(as with threats).",
        "before": "Subdue, encumber, or overcome by affecting with a feeling of reverence; "
        "frighten (as with threats).",
        "after": "Subdue, restrain, or surmount by affecting with a feeling of awe; frighten (as "
        "with threats).",
        "before_ok": False,
        "after_ok": True,
    },
    57: {
        "sentence": "The golden covering of the ark of the covenant.",
        "before": "The golden covering of the ark of the covenant.",
        "after": "The golden covering of the ark of the covenant.",
        "before_ok": True,
        "after_ok": True,
    },
    58: {
        "sentence": "The branch of biotechnology that uses biological process to overcome "
        "environmental problems.",
        "before": "The branch of biotechnology that uses biologic march to overcome environmental "
        "problems.",
        "after": "The branch of biotechnology that uses biological process to overcome "
        "environmental problems.",
        "before_ok": False,
        "after_ok": True,
    },
    59: {
        "sentence": "Plant of eastern and central North America having slightly fragrant "
        "purple-marked greenish-yellow flowers.",
        "before": "Plant of eastern and cardinal North America having slenderly fragrant "
        "purple-marked greenish-yellow flowers.",
        "after": "Plant of eastern and central North America having somewhat fragrant "
        "purple-marked greenish-yellow flowers.",
        "before_ok": False,
        "after_ok": True,
    },
    60: {
        "sentence": "Any plant of the order Psilophytales: a savannah plant.",
        "before": "Any plant of the regulate Psilophytales: a savanna plant.",
        "after": "Any plant of the order Psilophytales: a savannah works.",
        "before_ok": False,
        "after_ok": False,
    },
    61: {
        "sentence": "Given the character of an institution or incorporated into a structured and "
        "usually well-established system.",
        "before": "Given the character of an institution or incorporated into a structured and "
        "usually well-established system.",
        "after": "Given the character of an institution or incorporated into a structured and "
        "usually well-established system.",
        "before_ok": True,
        "after_ok": True,
    },
    62: {
        "sentence": "The quality of lacking diversity or variation (even to the point of boredom).",
        "before": "The quality of lacking diversity or sport (even to the point of boredom).",
        "after": "The quality of lacking diversity or variation (even to the point of boredom).",
        "before_ok": False,
        "after_ok": True,
    },
    63: {
        "sentence": "A type of LCD screen used for some portable computers; there is a separate "
        "circuit for each pixel.",
        "before": "A type of LCD screen secondhand for some portable computers; there is a "
        "separate circumference for each pel.",
        "after": "A type of LCD screen used for some portable computers; there is a separate "
        "circuit for each pixel.",
        "before_ok": False,
        "after_ok": True,
    },
    64: {
        "sentence": "Of or relating to Melanesia or its people or culture.",
        "before": "Of or relating to Melanesia or its people or culture.",
        "after": "Of or relating to Melanesia or its people or culture.",
        "before_ok": True,
        "after_ok": True,
    },
    65: {
        "sentence": "I turned my ankle and couldn't walk for several days.",
        "before": "I off my ankle and couldn't walk for several days.",
        "after": "I turned my ankle and couldn't walk for several days.",
        "before_ok": False,
        "after_ok": True,
    },
    66: {
        "sentence": "A diminutive flower (especially one that is part of a composite flower).",
        "before": "A diminutive flower (specially one that is part of a composite flower).",
        "after": "A diminutive flower (especially one that is part of a composite flower).",
        "before_ok": True,
        "after_ok": True,
    },
    67: {
        "sentence": "A group of islands in the Indian and Pacific Oceans between Asia and "
        "Australia.",
        "before": "A group of islands in the Indian and Peaceable Oceans between Asia and "
        "Australia.",
        "after": "A group of islands in the Indian and Pacific Oceans between Asia and Australia.",
        "before_ok": False,
        "after_ok": True,
    },
    68: {
        "sentence": "Of or relating to or characteristic or causing an axial or orbital turn.",
        "before": "Of or relating to or characteristic or causing an axial or orbital turn.",
        "after": "Of or relating to or characteristic or causing an axial or orbital turn.",
        "before_ok": True,
        "after_ok": True,
    },
    69: {
        "sentence": "The post of Secretary of Veterans Affairs was created in 1989.",
        "before": "The post of Secretary of Veterans Affairs was created in 1989.",
        "after": "The post of Secretary of Veterans Affairs was created in 1989.",
        "before_ok": True,
        "after_ok": True,
    },
    70: {
        "sentence": "He checked the direction and velocity of the wind.",
        "before": "He checked the direction and velocity of the wind.",
        "after": "He checked the direction and velocity of the wind.",
        "before_ok": True,
        "after_ok": True,
    },
    71: {
        "sentence": "A scene that is filmed but is not used in the final editing of the film.",
        "before": "A aspect that is filmed but is not used in the final editing of the pic.",
        "after": "A scene that is filmed but is not used in the concluding editing of the film.",
        "before_ok": False,
        "after_ok": True,
    },
    72: {
        "sentence": "Long thick piece of wood or metal or concrete, etc., used in construction.",
        "before": "Long thick patch of forest or alloy or concrete, etc., used in construction.",
        "after": "Long thick piece of wood or metal or concrete, etc., used in construction.",
        "before_ok": False,
        "after_ok": True,
    },
    73: {
        "sentence": "He put his coat over the back of the chair and sat down.",
        "before": "He put his coat over the back of the chair and sat down.",
        "after": "He put his coat over the back of the chair and sat down.",
        "before_ok": True,
        "after_ok": True,
    },
    74: {
        "sentence": "A desert in Turkmenistan to the south of the Aral Sea.",
        "before": "A desert in Turkmenistan to the south of the Aral Sea.",
        "after": "A desert in Turkmenistan to the south of the Aral Sea.",
        "before_ok": True,
        "after_ok": True,
    },
    75: {
        "sentence": "A range of the Appalachian Mountains along the eastern border of New York "
        "with Connecticut, Massachusetts, and Vermont.",
        "before": "A tramp of the Appalachian Mountains along the easterly border of New York with "
        "Connecticut, Massachusetts, and Vermont.",
        "after": "A range of the Appalachian Mountains along the eastern border of New York with "
        "Connecticut, Massachusetts, and Vermont.",
        "before_ok": False,
        "after_ok": True,
    },
    76: {
        "sentence": "A regular and monotonous rising and falling intonation.",
        "before": "A regular and monotonous rising and falling chanting.",
        "after": "A regular and monotonous rising and falling intonation.",
        "before_ok": False,
        "after_ok": True,
    },
    77: {
        "sentence": "A lowercase letter that has a part extending below other lowercase letters.",
        "before": "A lowercase letter that has a part extending below other minuscule letters.",
        "after": "A lowercase letter that has a part extending below other lowercase letters.",
        "before_ok": True,
        "after_ok": True,
    },
    78: {
        "sentence": "Book language; one of two official languages of Norway; closely related to "
        "Danish.",
        "before": "Book language; one of two official languages of Norway; closely related to "
        "Danish.",
        "after": "Book language; one of two official languages of Norway; closely related to "
        "Danish.",
        "before_ok": True,
        "after_ok": True,
    },
    79: {
        "sentence": "A feeling of hostility that arouses thoughts of attack.",
        "before": "A feeling of aggression that arouses thoughts of attack.",
        "after": "A feeling of hostility that arouses ideas of attack.",
        "before_ok": True,
        "after_ok": True,
    },
    80: {
        "sentence": "A local and habitual twitching especially in the face.",
        "before": "A local and habitual vellication particularly in the face.",
        "after": "A local and habitual twitching particularly in the face.",
        "before_ok": True,
        "after_ok": True,
    },
    81: {
        "sentence": "English novelist noted for her insightful portrayals of middle-class families "
        "(1775-1817).",
        "before": "English novelist noted for her insightful portrayals of middle-class families "
        "(1775-1817).",
        "after": "English novelist noted for her insightful portrayals of middle-class households "
        "(1775-1817).",
        "before_ok": True,
        "after_ok": True,
    },
    82: {
        "sentence": "A vise with two parallel iron jaws and a wide opening below.",
        "before": "A vise with two parallel iron jaws and a encompassing opening below.",
        "after": "A vise with two parallel iron jaws and a wide opening below.",
        "before_ok": False,
        "after_ok": True,
    },
    83: {
        "sentence": "Build up to a level by depositing sediment.",
        "before": "Build up to a flush by depositing sediment.",
        "after": "Build up to a level by depositing sediment.",
        "before_ok": False,
        "after_ok": True,
    },
    84: {
        "sentence": "The mechanical energy that a body has by virtue of its motion.",
        "before": "The mechanical energy that a body has by virtue of its motion.",
        "after": "The mechanical energy that a body has by virtue of its motion.",
        "before_ok": True,
        "after_ok": True,
    },
    85: {
        "sentence": "This dirty old man deflowered several young girls in the village.",
        "before": "This sordid old man deflowered several young girls in the village.",
        "after": "This dirty old man deflowered several young girls in the village.",
        "before_ok": True,
        "after_ok": True,
    },
    86: {
        "sentence": "Undergo condensation; change from a gaseous to a liquid state and fall in "
        "drops.",
        "before": "Undergo condensation; transfer from a gaseous to a liquid state and fall in "
        "drops.",
        "after": "Undergo condensation; change from a gaseous to a liquid state and fall in drops.",
        "before_ok": False,
        "after_ok": True,
    },
    87: {
        "sentence": "A framework of bars or logs for children to climb on.",
        "before": "A framework of bars or logs for children to climb on.",
        "after": "A framework of bars or logs for kids to climb on.",
        "before_ok": True,
        "after_ok": True,
    },
    88: {
        "sentence": "Any of numerous inedible fruits with hard rinds.",
        "before": "Any of legion inedible fruits with hard rinds.",
        "after": "Any of numerous inedible fruits with difficult rinds.",
        "before_ok": False,
        "after_ok": False,
    },
    89: {
        "sentence": "A human written or spoken language used by a community; opposed to e.g. a "
        "computer language.",
        "before": "A human written or spoken language victimized by a community; opposed to e.g. a "
        "computer language.",
        "after": "A human written or spoken language used by a community; opposed to e.g. a "
        "computer language.",
        "before_ok": False,
        "after_ok": True,
    },
    90: {
        "sentence": "Healing process involving the growing together of the edges of a wound or the "
        "growing together of broken bones.",
        "before": "Healing process involving the growing together of the edges of a wound or the "
        "growing together of unkept bones.",
        "after": "Healing process involving the growing together of the edges of a wound or the "
        "growing together of broken bones.",
        "before_ok": False,
        "after_ok": True,
    },
    91: {
        "sentence": "Cut of meat or fish including at least part of the backbone.",
        "before": "Thinned of meat or fish including at least part of the sand.",
        "after": "Cut of meat or fish including at least part of the guts.",
        "before_ok": False,
        "after_ok": False,
    },
    92: {
        "sentence": "White Arctic gull; migrates as far south as England and New Brunswick.",
        "before": "White Polar gull; migrates as far south as England and Fresh Brunswick.",
        "after": "White Arctic gull; migrates as far south as England and New Brunswick.",
        "before_ok": False,
        "after_ok": True,
    },
    93: {
        "sentence": "Capital and largest city of Oklahoma; the economy is based on oil and "
        "livestock.",
        "before": "Capital and largest city of Oklahoma; the economy is based on oil and "
        "livestock.",
        "after": "Capital and largest city of Oklahoma; the economy is based on oil and livestock.",
        "before_ok": True,
        "after_ok": True,
    },
    94: {
        "sentence": "Get something or somebody for a specific purpose.",
        "before": "Get something or individual for a specific purpose.",
        "after": "Get something or person for a specific purpose.",
        "before_ok": False,
        "after_ok": False,
    },
    95: {
        "sentence": "The program was on the air from 9 til midnight.",
        "before": "The program was on the air from 9 til midnight.",
        "after": "The program was on the air from 9 til midnight.",
        "before_ok": True,
        "after_ok": True,
    },
    96: {
        "sentence": "Going by past experience there was a high probability that the visitors were "
        "lost.",
        "before": "Going by past experience there was a high probability that the visitors were "
        "lost.",
        "after": "Going by past experience there was a high probability that the visitors were "
        "lost.",
        "before_ok": True,
        "after_ok": True,
    },
    97: {
        "sentence": "The power of its engine determines its operation.",
        "before": "The power of its engine determines its operation.",
        "after": "The power of its engine determines its operation.",
        "before_ok": True,
        "after_ok": True,
    },
    98: {
        "sentence": "The sudden collapse of something into a hollow beneath it.",
        "before": "The sudden collapse of something into a hollow below it.",
        "after": "The sudden collapse of something into a hollow beneath it.",
        "before_ok": True,
        "after_ok": True,
    },
    99: {
        "sentence": "He came around to our point of view.",
        "before": "He came around to our point of view.",
        "after": "He came around to our point of view.",
        "before_ok": True,
        "after_ok": True,
    },
}


def outputs() -> list[tuple[str, str, str]]:
    """(sentence, before, after) for the sample, regenerated."""
    sentences = text.wordnet_sentences(100, seed=2024, min_words=8, max_words=20)
    old, new = old_synonym_replace()(0.3), text.SynonymReplace(0.3)
    return [
        (s, old(s, np.random.default_rng(i)), new(s, np.random.default_rng(i)))
        for i, s in enumerate(sentences)
    ]


def main() -> int:
    stale = 0
    for i, (sentence, before, after) in enumerate(outputs()):
        row = SAMPLE[i]
        if (sentence, before, after) != (row["sentence"], row["before"], row["after"]):
            stale += 1
            print(f"note: sample {i} differs from the stored outputs (verdicts need a new look)")
    for version in ("before", "after"):
        changed = [r for r in SAMPLE.values() if r[version] != r["sentence"]]
        good = sum(r[f"{version}_ok"] for r in changed)
        total = sum(r[f"{version}_ok"] for r in SAMPLE.values())
        print(
            f"{version:<6}: {len(changed)} of {len(SAMPLE)} sentences changed, {good} acceptable "
            f"({good / max(len(changed), 1):.0%} of changed); {total / len(SAMPLE):.0%} of all"
        )
    print(f"stored outputs reproduced: {len(SAMPLE) - stale} of {len(SAMPLE)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
