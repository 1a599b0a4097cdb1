"""Runs eark-validator on one package and prints its report as JSON (run by .venv-eark's Python).

eark-validator fetches four vocabularies over the network when it is imported; the same
files ship inside it (resources/vocabs), so urlopen is pointed at those copies first.
"""

import importlib.util
import sys
import urllib.request
from pathlib import Path

VOCABS = Path(importlib.util.find_spec("eark_validator").submodule_search_locations[0]) / "ipxml/resources/vocabs"


def shipped_vocabulary(url, *args, **kwargs):
    if not url.startswith("https://earkcsip.dilcis.eu/schema/"):
        raise OSError(f"no network in tests: {url}")
    return open(VOCABS / url.rsplit("/", 1)[1], "rb")  # noqa: SIM115 (read and closed by the caller)


urllib.request.urlopen = shipped_vocabulary

from eark_validator.packages import PackageValidator  # noqa: E402
from eark_validator.specifications.specification import SpecificationVersion  # noqa: E402

print(PackageValidator(Path(sys.argv[1]), SpecificationVersion.V2_1_0).validation_report.model_dump_json())
