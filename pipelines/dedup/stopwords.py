"""Stopwords: function words dropped before the story anchors (``pipelines.dedup.features.anchors``).

One place for the lists; small on purpose (the commonest function words of news text), not a full list.
"""
from __future__ import annotations

ENGLISH = frozenset("""
a an the of and or but to in on at by for with from as into onto over after before about than then that
this these those it its is was were be been being are am has have had having not no nor so such also
he she they we you i his her their our your them him us who whom whose which what when where while will
would shall should can could may might must do does did said says say told mr ms mrs dr
""".split())

# Indonesian and Malay share most function words
MALAY_INDONESIAN = frozenset("""
yang dan di ke dari untuk dengan pada ini itu dalam akan tidak juga oleh sebagai atau bahwa telah sudah
karena kerana kata ia mereka kami kita adalah para serta bagi hingga namun ialah iaitu tersebut lebih
""".split())

VIETNAMESE = frozenset("""
và của là có được cho với các những trong này đã không một người khi về để
""".split())

RUSSIAN = frozenset("""
и в во не на с со что как а по к из у за о от для это его ее их же бы ли но
""".split())

STOPWORDS = ENGLISH | MALAY_INDONESIAN | VIETNAMESE | RUSSIAN
