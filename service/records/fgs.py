"""What a registrator reads of an agreement in its archive package: `metadata/descriptive/arende.json`,
one case (ärende) with its documents, in FGS Ärendehantering's terms, and its JSON Schema.

JSON rather than an ERMS-like XML: no ERMS schema can be validated here, and an XML that
borrows a namespace it does not conform to fails the first check an e-archive runs. This
JSON's schema (`schemas/arende.schema.json`) is made from the very models below, so file and
schema cannot drift apart, and each field's description names the FGS/ERMS element it
corresponds to. Dublin Core (`dc.xml`) carries the same essentials for any reader.
"""

import json
from datetime import date

from pydantic import BaseModel, ConfigDict, Field

PROFILE = "Avtalstjänsten ärendemetadata 1.0"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Organisation(_Model):
    namn: str = Field(description="Organisationens namn (ERMS: agent/name)")
    organisationsnummer: str = Field(description="NNNNNN-NNNN (ERMS: agent/idNumber, type orgnr)")


class Party(Organisation):
    typ: str = Field(description="offentlig eller idéburen")


class Process(_Model):
    kod: str = Field(description="Processens kod i klassificeringsstrukturen (ERMS: classificationSchema/code)")
    benamning: str = Field(description="Processens benämning (ERMS: classificationSchema/title)")


class Period(_Model):
    fran: date = Field(description="Gäller från (ERMS: dates/date dateType=from)")
    till: date = Field(description="Gäller till (ERMS: dates/date dateType=to)")


class Document(_Model):
    fil: str = Field(description="Sökväg i paketet, från paketets rot")
    handlingstyp: str = Field(description="Slutligt avtal, Låst version, Granskningslogg (ERMS: record/recordType)")
    skapad: str = Field(description="När handlingen upprättades, ISO 8601 med tidszon (ERMS: dates/date created)")
    sha256: str = Field(description="Kontrollsumma SHA-256 (ERMS: checksum)")


class Case(_Model):
    diarienummer: str = Field(description="Ärendets diarienummer (ERMS: aggregation/idNumber type diarienummer)")
    rubrik: str = Field(description="Avtalets titel (ERMS: aggregation/title)")
    klassificering: Process | None = Field(description="Process i klassificeringsstrukturen; null om ingen angavs")
    handlingstyp: str = Field(description="Handlingstyp enligt informationshanteringsplanen (ERMS: recordType)")
    avtalstyp: str = Field(description="IOP eller överenskommelse")
    handlaggare: str = Field(description="Ansvarig handläggare (ERMS: agent role=responsible_person)")
    enhet: str = Field(description="Ansvarig enhet (ERMS: agent role=responsible_organisational_unit)")
    arkivbildare: Organisation = Field(description="Den som upprättat handlingarna (METS: agent ROLE=ARCHIVIST)")
    period: Period | None = Field(description="Avtalets giltighetstid; null om ingen angavs")
    status: str = Field(description="Ärendets status i tjänsten")
    avslutat: date = Field(description="Dag då den första slutliga versionen upprättades, svensk tid")
    parter: list[Party] = Field(description="Avtalets parter")
    handlingar: list[Document] = Field(description="Ärendets handlingar i paketet")


class Description(_Model):
    profil: str = Field(description="Vilken beskrivning detta är; fälten förklaras i arende.schema.json")
    arende: Case


def document(description: Description) -> bytes:
    return (description.model_dump_json(indent=2) + "\n").encode("utf-8")


def schema() -> bytes:
    body = {"$schema": "https://json-schema.org/draft/2020-12/schema", **Description.model_json_schema()}
    return (json.dumps(body, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
