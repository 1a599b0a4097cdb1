"""The JSON the API takes and answers with, as pydantic models.

The views build every answer through these models and the OpenAPI description
(`openapi.py`) is generated from them, so what is served and what is documented cannot
drift apart. Requests are still read by the views and the domain (for the Swedish errors).
"""

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from .. import listing
from ..schema import Agreement, Party
from ..status import Status

Kind = Literal["iop", "overenskommelse"]
# Times as the API has always written them (datetime.isoformat: '+00:00', not pydantic's 'Z').
Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]

# --- request bodies ---

NewAgreement = Agreement  # validated by schema.validate_draft
NewParties = Party | Annotated[list[Party], Field(min_length=1)]


# Sending; the body may be left out.
class SendBody(BaseModel):
    change_note: str = Field("", max_length=300, description="Vad som har ändrats sedan förra versionen, till parterna")
    signing_order: Literal["together", "region_last", "in_order"] = Field(
        "together",
        description="I vilken ordning parterna får sina länkar: together alla samtidigt; region_last de "
        "offentliga parterna när alla idéburna parter har bekräftat; in_order en i taget, i avtalets ordning. "
        "En part som väntar på tur får sin länk med e-post när parterna före den har bekräftat.",
    )


# The list's query parameters, all optional.
class ListQuery(BaseModel):
    limit: Annotated[int, Field(ge=1, le=listing.MAX_PAGE_SIZE, description="Sidstorlek")] = listing.PAGE_SIZE
    cursor: str | None = Field(None, description="next_cursor från föregående sida")
    sort: str = Field("updated", description="Sortering", json_schema_extra={"enum": list(listing.SORTS)})
    status: Status | None = Field(None, description="Status")
    q: str | None = Field(None, description="Fritext: titel, part, diarienummer, organisationsnummer")
    registration_number: str | None = Field(None, description="Diarienummer, helt eller delvis")
    org_number: str | None = Field(None, description="En parts organisationsnummer")
    updated_since: datetime | None = Field(None, description="Ändrade från och med")


# --- answers ---


class FieldError(BaseModel):
    pointer: str = Field(description="JSON Pointer till fältet i det som skickades, t.ex. #/parties/1/org_number")
    message: str


# A refusal (RFC 9457): `code` (and `type`) per kind for programs, Swedish `title` and `detail` for people.
class Problem(BaseModel):
    type: str = Field(description="urn:avtalstjansten:problem:<code>")
    code: str = Field(description="Stabil kod per slags fel, t.ex. not-found, conflict, final-pending, invalid-input")
    title: str
    status: int
    detail: str
    message: str = Field(description="Samma som detail (för klienter skrivna före problemdokumenten)")
    errors: list[FieldError] | None = Field(None, description="Felet i varje fält, för ogiltiga uppgifter")

    def body(self) -> dict:
        return self.model_dump(mode="json", exclude_none=True)


# A new draft, and what it still lacks before it can be sent.
class Created(BaseModel):
    id: int
    status: Status
    missing: dict[str, str]


class Link(BaseModel):
    party: str
    url: str
    version: int = Field(description="Versionen som länken gäller")
    earlier_answer: Literal["confirmed", "declined"] | None = Field(
        None,
        description="Partens svar på förra versionen, som inte längre gäller: parten ska få veta att "
        "avtalet har ändrats (tjänsten skickar inte länkar från API:et med e-post)",
    )


# The signing links just issued.
class Links(BaseModel):
    status: Status
    links: list[Link]


class Progress(BaseModel):
    confirmed: int
    total: int


class ListItem(BaseModel):
    id: int
    kind: Kind
    title: str
    registration_number: str
    status: Status
    updated_at: Timestamp
    parties: Progress
    url: str


# One page of agreements; `next_cursor` is null on the last page.
class ListPage(BaseModel):
    items: list[ListItem]
    next_cursor: str | None


# A party's answer: a confirmation, or a decline with its reason.
class Confirmation(BaseModel):
    name: str
    title: str
    place: str
    date: date
    time: Timestamp
    reason: str | None
    version: int = Field(description="Versionen av avtalstexten som svaret gäller")


class PartyEntry(BaseModel):
    party: str
    org_number: str
    status: Literal["pending", "confirmed", "declined"]
    confirmation: Confirmation | None


class FinalPdf(BaseModel):
    number: int
    sha256: str


class LatestFinalPdf(FinalPdf):
    url: str


class AccessionRecordRef(BaseModel):
    number: int
    sha256: str
    url: str


# An organisation that joined the completed överenskommelse later, with its answer and record.
class JoinedEntry(PartyEntry):
    record: AccessionRecordRef | None = Field(
        description="null tills organisationen har bekräftat och beviset är gjort"
    )


# The organisations that joined later, counted; their list is read a page at a time at `url`.
class JoinedSummary(BaseModel):
    joined: int
    confirmed: int
    declined: int
    records: int
    url: str
    register: str | None = Field(description="Den senaste förteckningen över parterna (PDF), null om ingen är gjord")


# One page of the organisations that joined; `next_cursor` is null on the last page.
class JoinedPage(BaseModel):
    items: list[JoinedEntry]
    next_cursor: str | None


class JoinedQuery(BaseModel):
    cursor: str | None = Field(None, description="next_cursor från föregående sida")


# Where an agreement stands: its status, each party's answer and its final PDFs.
class AgreementStatus(BaseModel):
    id: int
    kind: Kind
    title: str
    status: Status
    version: int | None
    pdf_sha256: str | None
    parties: list[PartyEntry]
    final: LatestFinalPdf | None = Field(
        description="null tills avtalet är klart och jobbet har gjort dess slutliga PDF"
    )
    final_documents: list[FinalPdf]
    joined: JoinedSummary | None = Field(
        None, description="Organisationer som anslutit sig till en klar överenskommelse; null för andra avtal"
    )


# A list has joined whole; its links go out by email through the job queue.
class AccessionStarted(BaseModel):
    id: int
    status: Literal["sending"]
    parties: int
    url: str


# How far a list's links have gone out.
class AccessionProgress(BaseModel):
    id: int
    status: Literal["checked", "sending", "done"]
    total: int
    emailed: int
    failed: int
    unknown: int
    skipped: int = 0  # rows that could not join when their turn came (e.g. the organisation had joined since)
