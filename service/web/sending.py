"""The officials' pages for sending: freeze and send, revoke and reissue links, accession."""

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for

from .. import agreements, forms, mail, signing
from ..errors import Conflict
from ..formatting import local_time
from ..models import utcnow
from ..roles import DRAFTERS
from ..schema import SchemaError
from .auth import login_required
from .context import db, link_max_age, link_serializer, request_actor, send_for_signature, sign_url
from .drafting import missing_text, overview

bp = Blueprint("sending", __name__, url_prefix="/avtal")


# What the links page says about each party's email.
DELIVERY_TEXT = {
    "emailed": "E-post med länken är skickad till {email}.",
    "failed": "E-post till {email} kunde inte skickas. Ge parten länken på annat sätt.",
    "no_address": "Parten har ingen e-postadress. Ge parten länken själv.",
    "no_smtp": "Ingen e-post skickad: e-post är inte inställd för tjänsten. Ge parten länken själv.",
}


def _notify_parties(agreement, issued, change_note="") -> dict[int, str]:
    """Email the links in the official's name, after the links' transaction has committed."""
    return mail.send_links(current_app, agreement, issued, g.user.email, change_note)


def _links_page(agreement, issued, heading, deliveries, order=None):
    """The links just issued, shown once; `order`: the signing order, when it holds parties back."""
    links = [
        (
            link,
            sign_url(link.token),
            deliveries[link.link_id],
            DELIVERY_TEXT[deliveries[link.link_id]].format(email=link.party.contact_email),
        )
        for link in issued
    ]
    response = current_app.make_response(
        render_template(
            "drafting/links.html",
            agreement=agreement,
            heading=heading,
            links=links,
            order_label=signing.SIGNING_ORDERS[order] if order else None,
        )
    )
    response.headers["Cache-Control"] = "no-store"  # the links are shown once, never kept
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.post("/<int:agreement_id>/skicka")
@login_required(*DRAFTERS)
def send(agreement_id):
    change_note = agreements.check_change_note(request.form.get("change_note", ""))
    terms = agreements.check_sending_terms(
        request.form.get("message", ""),
        request.form.get("answer_by", ""),
        request.form.get("remind_every_days", ""),
        local_time(utcnow()).date(),
        link_max_age(),
        request.form.get("signing_order", signing.TOGETHER),
    )
    try:
        agreement, issued = send_for_signature(agreement_id, change_note, terms)
    except SchemaError as exc:
        raise Conflict(missing_text(exc.errors)) from None
    deliveries = _notify_parties(agreement, issued, change_note)
    if all(d == "emailed" for d in deliveries.values()):
        heading = "Avtalet är skickat för signering"
    else:
        heading = "Avtalet är låst för signering: ge parterna länkarna"
    held_back = len(issued) < len(agreement.data["parties"])
    return _links_page(agreement, issued, heading, deliveries, order=terms.signing_order if held_back else None)


@bp.post("/<int:agreement_id>/parter/<int:party_id>/aterkalla")
@login_required(*DRAFTERS)
def revoke(agreement_id, party_id):
    with db().session() as session:
        agreement = agreements.get_agreement(session, agreement_id)
        party = agreements.get_party(session, agreement, party_id)
        signing.revoke(session, party, g.user, request_actor())
    flash(f"Länken till {party.name} är återkallad. Den kan inte längre användas.")
    return redirect(url_for("drafting.show", agreement_id=agreement_id))


@bp.post("/<int:agreement_id>/parter/<int:party_id>/ny-lank")
@login_required(*DRAFTERS)
def reissue(agreement_id, party_id):
    with db().session() as session:
        agreement = agreements.get_agreement(session, agreement_id)
        party = agreements.get_party(session, agreement, party_id)
        issued = [signing.reissue_link(session, link_serializer(), party, link_max_age(), g.user, request_actor())]
    return _links_page(agreement, issued, f"Ny länk till {party.name}", _notify_parties(agreement, issued))


@bp.post("/<int:agreement_id>/parter/<int:party_id>/paminn")
@login_required(*DRAFTERS)
def remind(agreement_id, party_id):
    """A reminder by hand: the same reminder the sweep sends, recorded as the official's."""
    with db().session() as session:
        agreement = agreements.get_agreement(session, agreement_id)
        party = agreements.get_party(session, agreement, party_id)
    mail.remind_by_hand(current_app, agreement_id, party.id, g.user, request_actor())
    flash(f"En påminnelse är skickad till {party.name} ({party.contact_email}).")
    return redirect(url_for("drafting.show", agreement_id=agreement_id))


@bp.post("/<int:agreement_id>/anslut")
@login_required(*DRAFTERS)
def add_party(agreement_id):
    with db().session() as session:
        agreement = agreements.handled_agreement(session, agreement_id, g.user)
        index = len(agreement.data["parties"])
        party_data = forms.party_from_form(request.form, index)
        try:
            issued = agreements.add_party(
                session, link_serializer(), agreement, party_data, link_max_age(), request_actor()
            )
        except SchemaError as exc:
            typed = {k: v for k, v in request.form.items() if k.startswith(f"parties-{index}-")}
            errors = {f"parties.{index}.{field}": message for field, message in exc.errors.items()}
            return overview(session, agreement, typed, errors, status=400)
    deliveries = _notify_parties(agreement, [issued])
    return _links_page(agreement, [issued], f"{issued.party.name} är ansluten", deliveries)
